import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { HubStore } from "../../runtime/hub/store.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "fleet-store-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("HubStore", () => {
  it("keeps inbox rows, dedupe ids, pins and registry entries across reopen", () => {
    const dir = tmp();
    const a = new HubStore(dir);
    a.transaction(() => {
      expect(a.addInbox({ recipient: "beta", messageId: "m1", sender: "alpha", packet: new Uint8Array([1, 2]), expiresAt: 2_000, needsAck: true })).toBe(true);
      // Same recipient and id: stored once.
      expect(a.addInbox({ recipient: "beta", messageId: "m1", sender: "alpha", packet: new Uint8Array([1, 2]), expiresAt: 2_000, needsAck: true })).toBe(false);
      a.remember("alpha", "m1", 1_000);
    });
    a.putPin("alpha", new Uint8Array(32).fill(7));
    a.putRegistry("agent/alpha", new Uint8Array([9]));
    a.close();

    const b = new HubStore(dir);
    expect(b.pendingFor("beta", 1_500).map((r) => [r.messageId, [...r.packet]])).toEqual([["m1", [1, 2]]]);
    expect(b.pendingFor("beta", 2_500)).toEqual([]); // expired rows are not delivered
    expect(b.seen("alpha", "m1", 500)).toBe(true);
    expect(b.seen("alpha", "m1", 1_000)).toBe(false); // outside the window
    expect(b.getPin("alpha")).toEqual(new Uint8Array(32).fill(7));
    expect(b.registryEntries()).toEqual([{ key: "agent/alpha", entry: new Uint8Array([9]) }]);
    b.removeInbox("beta", "m1");
    expect(b.pendingFor("beta", 1_500)).toEqual([]);
    expect(b.consume("t1", 2, 10_000)).toBe(true);
    expect(b.consume("t1", 2, 10_000)).toBe(true);
    expect(b.consume("t1", 2, 10_000)).toBe(false); // used up, and that survives a restart:
    b.close();
    const c = new HubStore(dir);
    expect(c.consume("t1", 2, 10_000)).toBe(false);
    c.sweep(20_000, 0); // past forget_at: the record may go
    expect(c.consume("t1", 2, 30_000)).toBe(true);
    c.close();
  });

  it("fails with 808 when the store directory cannot be created", () => {
    // A regular file where the directory should be: unwritable even for root.
    const file = join(tmp(), "not-a-dir");
    writeFileSync(file, "x");
    let err: unknown;
    try {
      new HubStore(join(file, "home"));
    } catch (e) {
      err = e;
    }
    expect(isFleetError(err, ErrorCode.DELIVERY_STORE_FAILED)).toBe(true);
  });

  it("fails with 808 when the disk is full, and the failed transaction leaves nothing behind", () => {
    const store = new HubStore(tmp(), { maxBytes: 64 * 1024 });
    let err: unknown;
    try {
      store.transaction(() => {
        for (let i = 0; i < 1_000; i++) store.addInbox({ recipient: "b", messageId: `m${i}`, sender: "a", packet: new Uint8Array(1024), expiresAt: 10, needsAck: true });
      });
    } catch (e) {
      err = e;
    }
    expect(isFleetError(err, ErrorCode.DELIVERY_STORE_FAILED)).toBe(true);
    expect((err as Error).message).toMatch(/SQLITE_FULL/);
    expect(store.inboxSize()).toBe(0);
    store.close();
  });

  it("fails with 808, not silently, once the database cannot be written", () => {
    const store = new HubStore(tmp());
    store.close();
    expect(() => store.transaction(() => store.addInbox({ recipient: "b", messageId: "x", sender: "a", packet: new Uint8Array([1]), expiresAt: 1, needsAck: false }))).toThrow(/808|store/);
    try {
      store.addInbox({ recipient: "b", messageId: "x", sender: "a", packet: new Uint8Array([1]), expiresAt: 1, needsAck: false });
    } catch (e) {
      expect(isFleetError(e, ErrorCode.DELIVERY_STORE_FAILED)).toBe(true);
    }
  });
});
