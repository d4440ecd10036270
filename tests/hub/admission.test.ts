// What a handshake writes (a new agent's key pin and its registry entry) is one SQLite
// transaction: when the second write fails, the first is not left behind, on disk or in
// memory, and the connection ends with 808.
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HubConnection } from "../../runtime/client/connection.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, type FleetError } from "../../runtime/errors.js";
import { HubStore } from "../../runtime/hub/store.js";
import { cleanup, inProcessHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

/** The FleetError that ended a connection attempt, whether the handshake or the connection reported it. */
async function endOf(attempt: Promise<HubConnection>): Promise<FleetError | undefined> {
  let c: HubConnection;
  try {
    c = await attempt;
  } catch (e) {
    return e as FleetError;
  }
  return new Promise((r) => {
    c.onClose(r);
    setTimeout(() => r(undefined), 5_000); // still open: no error to report
  });
}

describe("hub: handshake writes", () => {
  it("commits a new agent's pin and registry entry together: a failed registry write leaves no pin (808), so the name stays free", async () => {
    const storeDir = join(tmpDir(), "hub");
    new HubStore(storeDir).close();
    // A real SQLite failure in the handshake's second write (the registry entry).
    const db = new Database(join(storeDir, "hub.db"));
    db.exec("CREATE TRIGGER refuse_registry BEFORE INSERT ON registry BEGIN SELECT RAISE(ABORT, 'registry write refused'); END");
    try {
      const { hub, port } = await inProcessHub({ storeDir });
      const first = generateIdentity("alpha");
      const err = await endOf(connectHub({ port, identity: first }));
      expect(err?.code).toBe(ErrorCode.DELIVERY_STORE_FAILED);
      expect(hub.pins.keyIdOf("alpha")).toBeUndefined();
      expect(hub.store.pins()).toEqual([]);
      expect(db.prepare("SELECT count(*) AS n FROM pins").get()).toEqual({ n: 0 });
      expect(hub.registry.agent("alpha")).toBeUndefined();
      expect(hub.isOnline("alpha")).toBe(false);

      // Nothing was pinned, so another key may still take the name once writes succeed.
      db.exec("DROP TRIGGER refuse_registry");
      const second = generateIdentity("alpha");
      const c = await connectHub({ port, identity: second });
      await until(() => hub.isOnline("alpha"), 5_000, "alpha online");
      expect(hub.pins.keyIdOf("alpha")).toBe(second.keyId);
      expect(hub.store.pins().map((p) => p.agent)).toEqual(["alpha"]);
      expect(hub.registry.agent("alpha")?.keyId).toBe(second.keyId);
      c.close();
    } finally {
      db.close();
    }
  });

  it("writes nothing when a known agent reconnects with the same key and offer", async () => {
    const storeDir = join(tmpDir(), "hub");
    const { hub, port } = await inProcessHub({ storeDir });
    const id = generateIdentity("beta");
    const first = await connectHub({ port, identity: id });
    await until(() => hub.isOnline("beta"), 5_000, "beta online");
    first.close();
    await until(() => !hub.isOnline("beta"), 5_000, "beta offline");
    const entry = hub.registry.get("agent/beta");
    // Any pin or registry write now fails: the reconnect must not need one.
    const db = new Database(join(storeDir, "hub.db"));
    db.exec("CREATE TRIGGER refuse_pins BEFORE INSERT ON pins BEGIN SELECT RAISE(ABORT, 'no'); END; CREATE TRIGGER refuse_registry BEFORE INSERT ON registry BEGIN SELECT RAISE(ABORT, 'no'); END");
    db.close();
    const again = await connectHub({ port, identity: id });
    await until(() => hub.isOnline("beta"), 5_000, "beta online again");
    expect(hub.registry.get("agent/beta")).toBe(entry);
    expect(hub.pins.keyIdOf("beta")).toBe(id.keyId);
    again.close();
  });
});
