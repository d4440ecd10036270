// Bottles are named by (origin, bottle_id) (spec/bottles.md): at the hub another origin
// cannot squat a predictable id, and hub.db files from before keep working.
import { create } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { createBottle } from "../../runtime/protocol/bottles.js";
import { HubStore } from "../../runtime/hub/store.js";
import { cleanup, inProcessHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

const payload = (v: unknown) => create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: JSON.stringify(v) } });

describe("hub: bottle ids", () => {
  it("holds and delivers two origins' bottles with the same id: a squatted id blocks nothing", async () => {
    const running = await inProcessHub();
    const aliceId = generateIdentity("alice");
    const malloryId = generateIdentity("mallory");
    const alice = await connectHub({ port: running.port, identity: aliceId });
    const mallory = await connectHub({ port: running.port, identity: malloryId });
    const drop = (c: typeof alice, b: ReturnType<typeof createBottle>) => c.send({ to: "fleet:hub", requiresAck: true, body: { case: "bottle", value: b } });
    // mallory guesses alice's id and drops first; bob is offline.
    const squat = createBottle(malloryId, systemClock, { to: { agent: "bob" }, condition: "always", payload: payload({ from: "mallory" }), bottleId: "alice-0001" });
    const real = createBottle(aliceId, systemClock, { to: { agent: "bob" }, condition: "always", payload: payload({ from: "alice" }), bottleId: "alice-0001" });
    expect((await drop(mallory, squat))?.status).toBe(ReceiptStatus.ACCEPTED);
    const receipt = await drop(alice, real);
    expect([receipt?.status, receipt?.code]).toEqual([ReceiptStatus.ACCEPTED, 0]); // not a "duplicate" (801)
    expect(running.hub.store.getBottle("alice", "alice-0001")?.origin).toBe("alice");
    const bob = await connectHub({ port: running.port, identity: generateIdentity("bob") });
    const got: unknown[] = [];
    bob.onMessage((env) => got.push(applicationValue(env)));
    await until(() => got.length === 2, 5_000, "both bottles");
    expect(got).toEqual(expect.arrayContaining([{ from: "alice" }, { from: "mallory" }]));
    await until(() => running.hub.store.getBottle("alice", "alice-0001")?.status === 3, 5_000, "alice's bottle acknowledged");
    for (const c of [alice, mallory, bob]) await c.close();
  });

  it("migrates a hub.db keyed by bottle_id alone, keeping its bottles", () => {
    const dir = join(tmpDir("fleet-hub-"), "hub");
    const old = new HubStore(dir);
    old.close();
    // Rewrite the table as earlier versions created it, with one bottle in it.
    const db = new Database(join(dir, "hub.db"));
    db.exec(`DROP TABLE bottles; CREATE TABLE bottles (
  bottle_id TEXT PRIMARY KEY, origin TEXT NOT NULL, recipient TEXT NOT NULL, bottle BLOB NOT NULL,
  status INTEGER NOT NULL, reason INTEGER NOT NULL, expires_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
INSERT INTO bottles VALUES ('b-1', 'alice', 'bob', x'0a00', 1, 0, 99, 5);`);
    db.close();
    const store = new HubStore(dir);
    expect(store.getBottle("alice", "b-1")).toMatchObject({ bottleId: "b-1", origin: "alice", recipient: "bob", status: 1, expiresAt: 99 });
    expect(store.putBottle({ bottleId: "b-1", origin: "mallory", recipient: "bob", bottle: new Uint8Array([10, 0]), status: 1, reason: 0, expiresAt: 99, updatedAt: 6 })).toBe(true);
    expect(store.putBottle({ bottleId: "b-1", origin: "alice", recipient: "bob", bottle: new Uint8Array([10, 0]), status: 1, reason: 0, expiresAt: 99, updatedAt: 6 })).toBe(false);
    store.setBottleStatus("mallory", "b-1", 2, 0, 7);
    expect(store.getBottle("alice", "b-1")?.status).toBe(1);
    store.close();
    // Opening again is a no-op.
    const again = new HubStore(dir);
    expect(again.getBottle("mallory", "b-1")?.status).toBe(2);
    again.close();
  });
});
