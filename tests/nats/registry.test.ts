// Registry replicas converge through fleet.v1.registry.sync on a real nats-server, and
// answer fleet.v1.registry.query requests with signed results.
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryDeltaSchema, RegistryEntrySchema, RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { signRegistryEntry } from "../../runtime/protocol/registry-owner.js";
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
      const replica = new RegistryReplica({ node: name, clock: systemClock, owners: conn.keys, signer: identity });
      replica.putAgent({ agentId: name, keyId: identity.keyId, publicKey: identity.publicKey, capabilities: [{ name: name === "reg-b" ? "compute" : "storage" }] });
      const sync = new NatsRegistrySync(conn, replica, { intervalMs: 200 });
      sync.start();
      conns.push(conn);
      syncs.push(sync);
    }
    const roots = () => syncs.map((s) => toHex(s.replica.digest().rootHash));
    await expect.poll(() => syncs.map((s) => s.replica.query(create(RegistryQuerySchema)).agents.length), { timeout: 10_000 }).toEqual([3, 3, 3]);
    await expect.poll(() => new Set(roots()).size, { timeout: 10_000 }).toBe(1);

    // Only its owner deletes a record: another replica's attempt is refused locally.
    expect(() => syncs[0].replica.remove("agent/reg-c")).toThrow(FleetError);
    syncs[2].replica.remove("agent/reg-c");
    await expect.poll(() => syncs.map((s) => s.replica.agent("reg-c") === undefined), { timeout: 10_000 }).toEqual([true, true, true]);
    await expect.poll(() => new Set(roots()).size, { timeout: 10_000 }).toBe(1);

    const asker = await connectNats({ url: server.url, identity: generateIdentity("reg-asker"), registry: false });
    conns.push(asker);
    const found = await asker.queryRegistry({ capability: "compute" });
    expect(found.agents.map((a) => a.agentId)).toEqual(["reg-b"]);
  });

  it("drops registry entries not written by their owners, from any replica on the subject", async () => {
    const refusals: FleetError[] = [];
    const honestId = generateIdentity("own-h");
    const h = await connectNats({ url: server.url, identity: honestId, registry: false });
    const replica = new RegistryReplica({ node: "own-h", clock: systemClock, owners: h.keys, signer: honestId });
    replica.putAgent({ agentId: "own-h", keyId: honestId.keyId, publicKey: honestId.publicKey, capabilities: [{ name: "real" }] });
    const sync = new NatsRegistrySync(h, replica, { intervalMs: 200, onError: (e) => refusals.push(e) });
    sync.start();
    const malloryId = generateIdentity("own-m");
    const m = await connectNats({ url: server.url, identity: malloryId, registry: false });
    conns.push(h, m);
    syncs.push(sync);
    // mallory's envelope is properly signed (so it is delivered and pinned), but the entries
    // in it claim own-h's record: one written by mallory's node, one under own-h's name signed
    // by mallory's key, and one of mallory's own from far in the future.
    const now = BigInt(Date.now());
    const entry = (key: string, agentId: string, node: string, wallMs: bigint) =>
      signRegistryEntry(create(RegistryEntrySchema, { key, version: { wallMs, logical: 0, node }, record: { case: "agent", value: { agentId, keyId: malloryId.keyId, capabilities: [{ name: "evil" }] } }, causal: [{ node, count: 1n }] }), malloryId);
    const forged = [entry("agent/own-h", "own-h", "own-m", now + 5_000n), entry("agent/own-h", "own-h", "own-h", now + 5_000n), entry("agent/own-m", "own-m", "own-m", 2n ** 64n - 1n)];
    const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, ttlSeconds: 60, body: { case: "registryDelta", value: create(RegistryDeltaSchema, { node: "own-m", entries: forged }) } }, "own-m", systemClock);
    await m.publishEnvelope(env);
    // (Replicas of other tests share the subject; entries of owners not pinned here yet wait quietly.)
    await expect.poll(() => refusals.map((e) => e.code).sort(), { timeout: 10_000 }).toEqual([ErrorCode.SECURITY_CLOCK_SKEW, ErrorCode.SECURITY_KEY_MISMATCH, ErrorCode.SECURITY_UNAUTHORIZED].sort());
    expect(replica.agent("own-h")?.capabilities.map((c) => c.name)).toEqual(["real"]);
    expect(replica.agent("own-m")).toBeUndefined();
    // The replica's clock was not dragged to the forged time: its next write is about now.
    expect(replica.putHealth({ agentId: "own-h", status: 1 }).version!.wallMs < now + 60_000n).toBe(true);
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
