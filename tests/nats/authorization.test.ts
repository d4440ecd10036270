// nats-server itself enforces who may do what (spec/nats-auth.md): a real nats-server runs
// with the authorization authorization.ts writes, every agent logs in with its Ed25519 key as
// an nkey, and the server refuses (permissions violation) what the subject table and the group
// chains do not allow, while the fleet's legitimate traffic flows.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BottleStatus } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { GroupSendPolicy } from "../../generated/proto/fleet/v1/group_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { createBottle } from "../../runtime/protocol/bottles.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { create } from "@bufbuild/protobuf";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, keyIdFor, signEnvelope, type Identity } from "../../runtime/crypto/index.js";
import { packetOf } from "../../runtime/nats/routes.js";
import { toWire } from "../../runtime/nats/wire.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { applyGroupStatement, issueInvite, KeyHistory, signGroupStatement, type GroupState, type StatementInit } from "../../runtime/protocol/groups/index.js";
import { buildAuthorization, foldChains, MAX_AUTH_USERS, renderAuthorization } from "../../runtime/nats/authorization.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { followKeys } from "../../runtime/nats/key-follow.js";
import { durableName, replyPrefix, STREAMS, subjects } from "../../runtime/nats/subjects.js";
import { hasNatsServer, natsSkipMessage, type NatsServerHandle } from "../support/nats-server.js";
import { rawLogin, startAuthorizedServer, violations, writeAuthorizationFile } from "./support/authorized.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const ids = {
  operator: generateIdentity("operator"),
  alice: generateIdentity("alice"),
  bob: generateIdentity("bob"),
  carol: generateIdentity("carol"),
  mallory: generateIdentity("mallory"),
};
const agents = [ids.alice, ids.bob, ids.carol, ids.mallory];
/** mallory's key before it rotates (a test below). */
const firstMallory = ids.mallory;

/** The ops group's chain: alice creates it, bob joins; carol joins later in a test. */
class Chain {
  readonly statements: Uint8Array[] = [];
  state?: GroupState;
  private readonly keys = new KeyHistory();
  constructor() {
    for (const id of Object.values(ids)) this.keys.add(id.agent, id.publicKey);
  }
  add(action: StatementInit["action"], by: Identity): void {
    const bytes = signGroupStatement({ group: "ops", seq: (this.state?.seq ?? 0n) + 1n, prev: this.state?.head ?? new Uint8Array(), at: Date.now(), action }, by);
    this.state = applyGroupStatement(this.state, bytes, this.keys);
    this.statements.push(bytes);
  }
}


const next = <T,>(register: (cb: (v: T) => void) => void, ms = 10_000) =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timed out")), ms);
    register((v) => (clearTimeout(t), resolve(v)));
  });

describe.skipIf(!hasNatsServer)("nats-server enforces the fleet's authorization (nkeys, per-subject permissions)", () => {
  let dir: string;
  let authFile: string;
  let server: NatsServerHandle;
  const chain = new Chain();
  const open: { close(): Promise<void> }[] = [];
  /** Checks that the fleet's own connections met no refusal. */
  const allowed: (() => void)[] = [];

  /** Writes the authorization (0600) from the agents and the ops chain, as `fleet nats auth` does. */
  async function writeAuthorization(): Promise<void> {
    const everyone = [...agents, ids.operator].map((i) => ({ agent: i.agent, publicKey: i.publicKey }));
    const groups = foldChains([{ group: "ops", statements: chain.statements }], everyone);
    const users = await buildAuthorization({ agents: agents.map((i) => ({ agent: i.agent, publicKey: i.publicKey })), admins: [{ agent: "operator", publicKey: ids.operator.publicKey }], groups });
    authFile = writeAuthorizationFile(dir, renderAuthorization(users));
  }

  /** SIGHUP, as `fleet nats auth --reload PID` sends, and the server's word that it read the file again. */
  let reloads = 0;
  async function reload(): Promise<void> {
    process.kill(server.pid, "SIGHUP");
    await server.logged("Reloaded server configuration", 10_000, ++reloads);
  }

  /** A bare nats.js connection logged in as id (what a hostile agent could do by hand). */
  async function raw(id: Identity): Promise<NatsConnection> {
    const nc = await rawLogin(server.url, id);
    open.push(nc);
    return nc;
  }

  async function agent(id: Identity, groups: string[] = []): Promise<NatsFleetConnection> {
    const c = await connectNats({ url: server.url, identity: id, auth: "nkey", groups, registry: { syncIntervalMs: 250, heartbeatMs: 250 } });
    // Everything the binding does is allowed: nats-server reports no violation on its connection.
    const seen = violations(c.carrier.nc);
    allowed.push(() => expect(seen, `${id.agent}'s connection`).toEqual([]));
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleet-nats-auth-"));
    chain.add({ case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }, ids.alice);
    chain.add({ case: "join", value: { invite: issueInvite("ops", ids.alice, { uses: 5 }) } }, ids.bob);
    await writeAuthorization();
    // The operator provisions streams and every agent's durable consumers (agents may not).
    server = await startAuthorizedServer(dir, ids.operator, agents);
  });

  afterAll(async () => {
    for (const c of open.reverse()) await c.close().catch(() => {});
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes the authorization 0600, one nkey user per agent plus the operator", async () => {
    expect(statSync(authFile).mode & 0o777).toBe(0o600);
    const users = await buildAuthorization({ agents: agents.map((i) => ({ agent: i.agent, publicKey: i.publicKey })), admins: [{ agent: "operator", publicKey: ids.operator.publicKey }] });
    expect(users.map((u) => u.agent)).toEqual(["operator", "alice", "bob", "carol", "mallory"]);
    expect(users[0].permissions).toBeUndefined();
  });

  it("legitimate traffic flows: a signed message with its receipts, group traffic between members, registry and presence, a bottle, a session", async () => {
    const alice = await agent(ids.alice, ["ops"]);
    const bob = await agent(ids.bob, ["ops"]);
    const got = next<Envelope>((cb) => bob.onMessage((env) => cb(env)));
    const processed = next<ReceiptStatus>((cb) => alice.onReceipt((r, from) => from === "bob" && cb(r.status)));
    const accepted = await alice.send({ to: "bob", json: { hello: "bob" }, requiresAck: true });
    expect(accepted?.status).toBe(ReceiptStatus.ACCEPTED);
    expect(applicationValue(await got)).toEqual({ hello: "bob" });
    expect(await processed).toBe(ReceiptStatus.PROCESSED);

    const inGroup = next<Envelope>((cb) => bob.onMessage((env) => env.recipient?.target.case === "group" && cb(env)));
    await alice.send({ to: "group:ops", text: "ops only" });
    expect(applicationValue(await inGroup)).toBe("ops only");

    // Registry sync (each replica learns the other) and presence heartbeats.
    await expect.poll(() => alice.membership!.replica.agent("bob")?.agentId, { timeout: 10_000 }).toBe("bob");
    await expect.poll(() => bob.membership!.isOnline("alice"), { timeout: 10_000 }).toBe(true);
    const answer = await alice.queryRegistry({ agentId: "bob" });
    expect(answer.agents.map((a) => a.agentId)).toEqual(["bob"]);
    // A bottle for bob: stored in FLEET_BOTTLES, read through his own durable, receipted to alice.
    const letter = next<Envelope>((cb) => bob.onMessage((env) => env.body?.kind.case === "bottleLetter" && cb(env)));
    const bottleReceipt = next<BottleStatus>((cb) => alice.onMessage((env) => env.body?.kind.case === "bottleReceipt" && cb(env.body.kind.value.status)));
    const stored = await alice.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, body: { case: "bottle", value: createBottle(ids.alice, systemClock, { bottleId: "b-1", to: { agent: "bob" }, condition: "agent_online:alice", payload: create(ApplicationPayloadSchema, { mediaType: "text/plain", content: { case: "json", value: '"for later"' } }) }) } });
    expect(stored?.status).toBe(ReceiptStatus.ACCEPTED);
    expect((await letter).sender).toBe("alice");
    expect(await bottleReceipt).toBe(BottleStatus.ACKNOWLEDGED);
    // A pairwise session: the handshake through both inboxes, then the session subjects.
    await alice.openSession("bob");
    const inSession = next<Envelope>((cb) => bob.onMessage((env) => applicationValue(env) === "sealed" && cb(env)));
    await alice.send({ to: "bob", text: "sealed", sign: false });
    await inSession;
    for (const check of allowed) check();
  });

  it("an agent cannot subscribe to another agent's inbox, receipts, reply prefix or durable consumer", async () => {
    const nc = await raw(ids.mallory);
    const seen = violations(nc);
    for (const subject of [subjects.agentInbox("bob"), subjects.agentReceipts("bob"), `${await replyPrefix("bob")}.>`, "_INBOX.>", ">"]) nc.subscribe(subject);
    await nc.flush();
    await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(5);
    expect(seen).toContain(`subscription ${subjects.agentInbox("bob")}`);
    // Bob's stored inbox: neither his durable consumer nor a new consumer of FLEET_INBOX is reachable.
    const jsm = await nc.jetstreamManager();
    await expect(jsm.consumers.info(STREAMS.inbox.name, await durableName("inbox", "bob"))).rejects.toThrow();
    await expect(jsm.consumers.add(STREAMS.inbox.name, { durable_name: "mine", filter_subject: subjects.agentInbox("bob") })).rejects.toThrow();
    await expect.poll(() => seen.some((s) => s.startsWith(`publish $JS.API.CONSUMER.INFO.${STREAMS.inbox.name}.`)), { timeout: 5_000 }).toBe(true);
    // Its own inbox subject is allowed: no violation for it.
    nc.subscribe(subjects.agentInbox("mallory"));
    await nc.flush();
    expect(seen).not.toContain(`subscription ${subjects.agentInbox("mallory")}`);
  });

  it("an agent cannot subscribe to a group it is not in, nor publish to it", async () => {
    const nc = await raw(ids.mallory);
    const seen = violations(nc);
    nc.subscribe(subjects.group("ops"));
    nc.publish(subjects.group("ops"), new Uint8Array([1]));
    await nc.flush();
    await expect.poll(() => seen.sort(), { timeout: 5_000 }).toEqual([`publish ${subjects.group("ops")}`, `subscription ${subjects.group("ops")}`]);
  });

  it("an agent cannot publish on another agent's keys subject (nor store there), only on its own", async () => {
    const nc = await raw(ids.mallory);
    const seen = violations(nc);
    nc.publish(subjects.keys("bob"), new Uint8Array([1]));
    nc.publish(subjects.presence("bob"), new Uint8Array([1]));
    await nc.flush();
    await expect.poll(() => seen.sort(), { timeout: 5_000 }).toEqual([`publish ${subjects.keys("bob")}`, `publish ${subjects.presence("bob")}`]);
    // Nothing reached FLEET_KEYS under bob's subject (the operator looks).
    const admin = await raw(ids.operator);
    const info = await (await admin.jetstreamManager()).streams.info(STREAMS.keys.name, { subjects_filter: subjects.keys("bob") });
    expect(info.state.subjects?.[subjects.keys("bob")] ?? 0).toBe(0);
  });

  it("a registry query cannot aim its answer at another agent's keys subject (replicas answer request inboxes only)", async () => {
    // carol's replica serves registry queries; mallory asks with a forged reply subject.
    await agent(ids.carol);
    const nc = await raw(ids.mallory);
    const signedQuery = () => {
      const query = buildEnvelope({ to: "fleet:hub", type: MessageType.QUERY, body: { case: "registryQuery", value: create(RegistryQuerySchema, {}) } }, "mallory", systemClock);
      return toWire(packetOf(signEnvelope(query, ids.mallory)), { publicKey: ids.mallory.publicKey });
    };
    const ask = async () => {
      const w = signedQuery();
      return nc.request(subjects.registryQuery(), w.data, { headers: w.headers, timeout: 1_000 }).then(
        (m) => m.data.length > 0,
        () => new Promise<boolean>((r) => setTimeout(() => r(false), 250)),
      );
    };
    // A real request is answered once the replica serves (bounded retries).
    let answered = false;
    for (let i = 0; i < 40 && !answered; i++) answered = await ask();
    expect(answered).toBe(true);
    for (let i = 0; i < 5; i++) {
      const w = signedQuery();
      nc.publish(subjects.registryQuery(), w.data, { headers: w.headers, reply: subjects.keys("bob") });
    }
    // Answered in order: once a later real request is answered, the forged ones have been handled.
    expect(await ask()).toBe(true);
    // Nothing was stored under bob's (or anyone's) keys subject.
    const admin = await raw(ids.operator);
    const info = await (await admin.jetstreamManager()).streams.info(STREAMS.keys.name, { subjects_filter: ">" });
    expect(info.state.subjects ?? {}).toEqual({});
  });

  it("an agent without a valid nkey is refused connection (603)", async () => {
    const stranger = generateIdentity("alice"); // a known name, an unknown key
    const err = await connectNats({ url: server.url, identity: stranger, auth: "nkey" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).code).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    // And without any login at all.
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
  });

  it("after a membership change, `fleet nats auth` and a reload, the new member may subscribe to the group, and a kicked one loses it", async () => {
    const before = await raw(ids.carol);
    const seen = violations(before);
    before.subscribe(subjects.group("ops"));
    await before.flush();
    await expect.poll(() => seen, { timeout: 5_000 }).toEqual([`subscription ${subjects.group("ops")}`]);

    chain.add({ case: "join", value: { invite: issueInvite("ops", ids.alice, { uses: 1 }) } }, ids.carol);
    await writeAuthorization();
    await reload();

    const carol = await agent(ids.carol, ["ops"]);
    const alice = await agent(ids.alice, ["ops"]);
    const got = next<Envelope>((cb) => carol.onMessage((env) => env.recipient?.target.case === "group" && cb(env)));
    // The subscription is in place once the server has it: send until it arrives (bounded).
    for (let i = 0; i < 20; i++) {
      await alice.send({ to: "group:ops", text: `welcome ${i}` });
      const arrived = await Promise.race([got.then(() => true), new Promise((r) => setTimeout(() => r(false), 250))]);
      if (arrived) break;
    }
    expect(String(applicationValue(await got))).toMatch(/^welcome/);

    // A kick: bob, subscribed before, loses the subscription at the next reload.
    const bobRaw = await raw(ids.bob);
    const bobSeen = violations(bobRaw);
    const bobGot: string[] = [];
    bobRaw.subscribe(subjects.group("ops"), { callback: (err, m) => bobGot.push(err ? `error ${err.message}` : m.subject) });
    await bobRaw.flush();
    chain.add({ case: "kick", value: { agent: "bob" } }, ids.alice);
    await writeAuthorization();
    await reload();
    await alice.send({ to: "group:ops", text: "after the kick" });
    await carol.send({ to: "group:ops", text: "after the kick, again" });
    await bobRaw.flush();
    // The server dropped bob's subscription at the reload (a permissions violation for it) and delivered nothing after.
    await expect.poll(() => bobSeen, { timeout: 5_000 }).toEqual([`subscription ${subjects.group("ops")}`]);
    expect(bobGot.filter((s) => !s.startsWith("error"))).toEqual([]);
  });

  it("an agent stores its own key rotation (its own keys subject); with the new key in the authorization it logs in with it", async () => {
    const before = await agent(ids.mallory);
    const next = generateIdentity("mallory");
    const receipt = await before.rotateKey(next);
    expect(receipt.status).toBe(ReceiptStatus.ACCEPTED);
    // Not yet in the authorization: the new key is refused at login.
    await expect(connectNats({ url: server.url, identity: next, auth: "nkey" })).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED });
    agents[agents.indexOf(ids.mallory)] = ids.mallory = next;
    await writeAuthorization();
    await reload();
    const after = await agent(next);
    expect(after.identity.keyId).toBe(next.keyId);
  });

  it("the operator's key follower applies FLEET_KEYS: a rotated key moves, a revoked agent is dropped", async () => {
    const carol = await agent(ids.carol);
    await carol.revokeKey(Date.now(), "leaked");
    // An operator that still knows mallory's first key (from before the rotation test above).
    const known = agents.map((i) => ({ agent: i.agent, publicKey: i.agent === "mallory" ? firstMallory.publicKey : i.publicKey }));
    const followed = await followKeys(server.url, ids.operator, known);
    expect(followed.revoked).toEqual(["carol"]);
    expect(followed.rotated).toEqual(["mallory"]);
    expect(followed.agents.map((a) => [a.agent, keyIdFor(a.publicKey)])).toEqual([
      ["alice", ids.alice.keyId],
      ["bob", ids.bob.keyId],
      ["mallory", ids.mallory.keyId],
    ]);
  });

  it("holds at most maxUsers users (804 past it) and refuses two agents with one key (607)", async () => {
    const a = { agent: "a", publicKey: ids.alice.publicKey };
    await expect(buildAuthorization({ agents: [a, { agent: "b", publicKey: ids.bob.publicKey }], maxUsers: 1 })).rejects.toMatchObject({ code: ErrorCode.DELIVERY_BUSY });
    expect(MAX_AUTH_USERS).toBe(10_000);
    await expect(buildAuthorization({ agents: [a, { agent: "b", publicKey: ids.alice.publicKey }] })).rejects.toMatchObject({ code: ErrorCode.SECURITY_KEY_MISMATCH });
  });
});
