// Held bottles are re-evaluated when agents arrive, at most once per BOTTLE_PASS_INTERVAL_MS
// for all who arrived meanwhile (BottleKeeper.evaluateSoon): a burst of N arrivals with B
// bottles held is not N passes over B conditions. The bottle whose condition an arrival
// satisfies still goes out.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { FakeClock, systemClock } from "../../runtime/clock.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { BOTTLE_PASS_INTERVAL_MS } from "../../runtime/hub/bottles.js";
import { createBottle } from "../../runtime/protocol/bottles.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

const payload = (v: unknown) => create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: JSON.stringify(v) } });

describe("hub: held bottles during a burst of arrivals", () => {
  it("re-evaluates them fewer times than agents arrived, and delivers the one whose condition the burst met", async () => {
    // A clock that stands still: the maintenance tick (1 s) never runs a pass of its own here.
    const running = await inProcessHub({ clock: new FakeClock(Date.now()) });
    const aliceId = generateIdentity("alice");
    const bobId = generateIdentity("bob");
    const alice = await connectHub({ port: running.port, identity: aliceId });
    const bob = await connectHub({ port: running.port, identity: bobId });
    const got: unknown[] = [];
    bob.onMessage((env) => got.push(applicationValue(env)));
    // Bottles for bob held until one of the arriving agents is online.
    const ids = Array.from({ length: 30 }, (_, i) => generateIdentity(`arrival-${i}`));
    for (const [i, who] of [ids[29]!.agent, "never-arrives"].entries()) {
      const bottle = createBottle(aliceId, systemClock, { to: { agent: "bob" }, condition: `agent_online:${who}`, payload: payload({ n: i }) });
      const receipt = await alice.send({ to: "fleet:hub", requiresAck: true, body: { case: "bottle", value: bottle } });
      expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    }
    const keeper = running.hub.bottles;
    const passes: number[] = [];
    const evaluate = keeper.evaluate.bind(keeper);
    keeper.evaluate = () => {
      passes.push(performance.now());
      evaluate();
    };
    const conns = await Promise.all(ids.map((identity) => connectHub({ port: running.port, identity, reconnect: false })));
    await until(() => ids.every((id) => running.hub.isOnline(id.agent)), 5_000, "all arrived");
    await until(() => got.length === 1, 5_000, "the bottle whose condition held");
    expect(got).toEqual([{ n: 0 }]);
    expect(passes.length).toBeGreaterThan(0);
    // However the arrivals fell, two passes are at least an interval apart.
    for (let i = 1; i < passes.length; i++) expect(passes[i]! - passes[i - 1]!).toBeGreaterThanOrEqual(BOTTLE_PASS_INTERVAL_MS - 1);
    // And a burst inside one interval costs one pass.
    const before = passes.length;
    for (let i = 0; i < 1_000; i++) keeper.evaluateSoon();
    await until(() => passes.length === before + 1, 1_000, "one pass");
    await new Promise((r) => setTimeout(r, 3 * BOTTLE_PASS_INTERVAL_MS));
    expect(passes.length).toBe(before + 1);
    for (const c of [...conns, alice, bob]) await c.close();
  });
});
