// Registry replicas converge through fleet.v1.registry.sync on a real nats-server, and
// answer fleet.v1.registry.query requests with signed results.
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, toHex } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { NatsRegistrySync } from "../../runtime/nats/registry.js";
import { RegistryReplica } from "../../runtime/protocol/registry.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

describe.skipIf(!hasNatsServer)("registry over NATS", () => {
  let server: NatsServerHandle;
  const conns: NatsFleetConnection[] = [];
  const syncs: NatsRegistrySync[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const s of syncs) s.stop();
    for (const c of conns) await c.close();
    await server?.stop();
  });

  it("converges three replicas, deletions included, and answers queries", async () => {
    const names = ["reg-a", "reg-b", "reg-c"];
    for (const name of names) {
      const identity = generateIdentity(name);
      const conn = await connectNats({ url: server.url, identity });
      const replica = new RegistryReplica({ node: name, clock: systemClock });
      replica.putAgent({ agentId: name, keyId: identity.keyId, publicKey: identity.publicKey, capabilities: [{ name: name === "reg-b" ? "compute" : "storage" }] });
      const sync = new NatsRegistrySync(conn, replica, { intervalMs: 200 });
      sync.start();
      conns.push(conn);
      syncs.push(sync);
    }
    const roots = () => syncs.map((s) => toHex(s.replica.digest().rootHash));
    await expect.poll(() => syncs.map((s) => s.replica.query(create(RegistryQuerySchema)).agents.length), { timeout: 10_000 }).toEqual([3, 3, 3]);
    await expect.poll(() => new Set(roots()).size, { timeout: 10_000 }).toBe(1);

    syncs[0].replica.remove("agent/reg-c");
    await expect.poll(() => syncs.map((s) => s.replica.agent("reg-c") === undefined), { timeout: 10_000 }).toEqual([true, true, true]);
    await expect.poll(() => new Set(roots()).size, { timeout: 10_000 }).toBe(1);

    const asker = await connectNats({ url: server.url, identity: generateIdentity("reg-asker") });
    conns.push(asker);
    const found = await asker.queryRegistry({ capability: "compute" });
    expect(found.agents.map((a) => a.agentId)).toEqual(["reg-b"]);
  });

  it("reports 805 when no replica serves queries", async () => {
    const lonely = await startNatsServer();
    const c = await connectNats({ url: lonely.url, identity: generateIdentity("lonely") });
    try {
      await c.queryRegistry({}, 500);
      expect.unreachable();
    } catch (e) {
      expect((e as FleetError).code).toBe(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE);
    } finally {
      await c.close();
      await lonely.stop();
    }
  });
});
