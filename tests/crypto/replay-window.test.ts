// The "ttl" replay window (spec/signing.md) for store-and-forward receivers, over memory and
// over the durable SQLite store: ids are remembered for the message's whole ttl (not 600 s),
// old stored messages pass, the future is bounded, and a reopened store still knows its ids.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { FakeClock } from "../../runtime/clock.js";
import { ReplayGuard } from "../../runtime/crypto/index.js";
import { SqliteReplayStore } from "../../runtime/node/replay-store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("ReplayGuard, ttl window", () => {
  it("still refuses a copy 601 s later when its ttl is an hour; accepts a message stored for 10 minutes; refuses the future (605) and ttl over 30 days (709)", () => {
    const clock = new FakeClock(1_700_000_000_000);
    const guard = new ReplayGuard({ clock, window: "ttl" });
    const env = buildEnvelope({ to: "beta", text: "x", ttlSeconds: 3_600 }, "alpha", clock);
    guard.check(env);
    clock.advance(601_000);
    expect(() => guard.check(env)).toThrow(expect.objectContaining({ code: 604 }));
    const old = buildEnvelope({ to: "beta", text: "waited" }, "alpha", new FakeClock(clock.now() - 200_000));
    expect(() => guard.check(old)).not.toThrow();
    const future = buildEnvelope({ to: "beta", text: "later" }, "alpha", new FakeClock(clock.now() + 10 * 365 * 86_400_000));
    expect(() => guard.check(future)).toThrow(expect.objectContaining({ code: 605 }));
    const forever = buildEnvelope({ to: "beta", text: "forever", ttlSeconds: 4_000_000_000 }, "alpha", clock);
    expect(() => guard.check(forever)).toThrow(expect.objectContaining({ code: 709 }));
  });

  it("keeps seen ids in SQLite across a reopen, and refuses (804) when full of live ids", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-replay-"));
    dirs.push(dir);
    const file = join(dir, "beta.db");
    const clock = new FakeClock(1_700_000_000_000);
    const env = buildEnvelope({ to: "beta", text: "x" }, "alpha", clock);
    const first = new SqliteReplayStore(file);
    new ReplayGuard({ clock, window: "ttl", store: first }).check(env);
    first.close();
    const reopened = new SqliteReplayStore(file);
    const guard = new ReplayGuard({ clock, window: "ttl", store: reopened, maxEntries: 2 });
    expect(() => guard.check(env)).toThrow(expect.objectContaining({ code: 604 }));
    guard.check(buildEnvelope({ to: "beta", text: "y" }, "alpha", clock));
    expect(() => guard.check(buildEnvelope({ to: "beta", text: "z" }, "alpha", clock))).toThrow(expect.objectContaining({ code: 804 }));
    // Once the first ones expire (ttl 300 s), there is room again.
    clock.advance(301_000);
    expect(() => guard.check(buildEnvelope({ to: "beta", text: "z" }, "alpha", clock))).not.toThrow();
    reopened.close();
  });
});
