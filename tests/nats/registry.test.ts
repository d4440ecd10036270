// Registry replicas converge through fleet.v1.registry.sync on a real nats-server, and
// answer fleet.v1.registry.query requests with signed results.
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { PING_MEDIA_TYPE } from "../../runtime/client/bodies.js";
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
      const conn = await connectNats({ url: server.url, identity, registry: false });
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

    const asker = await connectNats({ url: server.url, identity: generateIdentity("reg-asker"), registry: false });
    conns.push(asker);
    const found = await asker.queryRegistry({ capability: "compute" });
    expect(found.agents.map((a) => a.agentId)).toEqual(["reg-b"]);
  });

  it("lets every agent join by default: registry, presence, online-only queries, and pings", async () => {
    const opts = { syncIntervalMs: 200, heartbeatMs: 200 };
    const x = await connectNats({ url: server.url, identity: generateIdentity("member-x"), capabilities: ["gpu"], registry: opts });
    const y = await connectNats({ url: server.url, identity: generateIdentity("member-y"), registry: opts });
    conns.push(x, y);
    await expect.poll(() => y.membership!.replica.agent("member-x")?.capabilities.map((c) => c.name), { timeout: 10_000 }).toEqual(["gpu"]);
    await expect.poll(() => y.membership!.isOnline("member-x"), { timeout: 10_000 }).toBe(true);
    // A late, short-lived client gets its answer from a settled member, not its own fresh replica.
    const cli = await connectNats({ url: server.url, identity: generateIdentity("member-cli") });
    conns.push(cli);
    const found = await cli.queryRegistry({ capability: "gpu", onlineOnly: true });
    expect(found.agents.map((a) => a.agentId)).toEqual(["member-x"]);
    const pong = await cli.request({ to: "member-x", type: MessageType.QUERY, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: PING_MEDIA_TYPE, content: { case: "json", value: "{}" } }) } }, 5_000);
    expect(pong.sender).toBe("member-x");
    const hubPong = await cli.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: PING_MEDIA_TYPE, content: { case: "json", value: "{}" } }) } }, 5_000);
    expect(hubPong.type).toBe(MessageType.RESPONSE);
  });

  it("reports 805 when no replica serves queries", async () => {
    const lonely = await startNatsServer();
    const c = await connectNats({ url: lonely.url, identity: generateIdentity("lonely"), registry: false });
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
