// Group chains on a real nats-server (spec/groups.md "On NATS"): statements stored in
// FLEET_GROUPS on fleet.v1.groupchain.{group}, appended with the expected last subject
// sequence, verified and folded by every reader. Invite use limits hold across connections and
// a nats-server restart (file storage); of two joins racing for an invite's last use exactly one
// lands (604 for the other); forged statements published straight onto the subject are applied
// by nobody; recipients take group:ops only from members and only while members themselves.
import { headers as natsHeaders } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupSendPolicy, SignedGroupStatementSchema } from "../../generated/proto/fleet/v1/group_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { applicationValue } from "../../runtime/client/draft.js";
import { fetchChain } from "../../runtime/client/groups.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, PinnedKeys, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError, isFleetError } from "../../runtime/errors.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { NatsGroupKeys } from "../../runtime/nats/group-keys.js";
import { GROUP_STATEMENT_CONTENT_TYPE, NatsGroupChains } from "../../runtime/nats/groups.js";
import { STREAMS, subjects } from "../../runtime/nats/subjects.js";
import { HEADER } from "../../runtime/nats/wire.js";
import { issueInvite, MAX_GROUP_KEYS, signGroupStatement, type StatementInit } from "../../runtime/protocol/groups/index.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

interface Agent {
  id: Identity;
  conn: NatsFleetConnection;
  rejects: FleetError[];
  got: unknown[];
}

const MEMBERS = { send: GroupSendPolicy.MEMBERS, joinApproval: false };

describe.skipIf(!hasNatsServer)("NATS group chains", () => {
  let server: NatsServerHandle;
  const open: NatsFleetConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await server?.stop();
  });

  /** Connects identity (a fresh one by name) on its own NATS connection, receiving groups. */
  async function agent(who: string | Identity, groups: string[] = []): Promise<Agent> {
    const id = typeof who === "string" ? generateIdentity(who) : who;
    const rejects: FleetError[] = [];
    const conn = await connectNats({ url: server.url, identity: id, registry: false, groups, onReject: (e) => rejects.push(e) });
    open.push(conn);
    const got: unknown[] = [];
    conn.onMessage((env) => got.push(applicationValue(env)));
    return { id, conn, rejects, got };
  }

  /** The next statement of group by `by`, against the chain as stored now (read through via). */
  async function next(via: NatsFleetConnection, by: Identity, group: string, action: StatementInit["action"]): Promise<Uint8Array> {
    const { state } = await via.groupChains.read(group);
    return signGroupStatement({ group, seq: (state?.seq ?? 0n) + 1n, prev: state?.head ?? new Uint8Array(), at: Date.now(), action }, by);
  }

  /** Signs (with the connection's current key) and appends the next statement. */
  const append = async (a: Agent, group: string, action: StatementInit["action"]) => a.conn.appendGroupStatement(await next(a.conn, a.conn.identity, group, action));

  /** Publishes bytes straight onto a group's chain subject, as any NATS client could. */
  async function publishRaw(via: NatsFleetConnection, group: string, bytes: Uint8Array, announce: Identity, contentType: string = GROUP_STATEMENT_CONTENT_TYPE): Promise<void> {
    const h = natsHeaders();
    h.set(HEADER.contentType, contentType);
    h.set(HEADER.publicKey, Buffer.from(announce.publicKey).toString("base64"));
    await via.carrier.nc.jetstream().publish(subjects.groupChain(group), bytes, { headers: h });
  }

  const members = (s: { members: ReadonlyMap<string, unknown> } | undefined) => [...(s?.members.keys() ?? [])].sort();
  const codeOf = (e: unknown) => (e instanceof FleetError ? [e.code, e.pointer] : e);

  it("stores chains in FLEET_GROUPS, never dropping old statements", async () => {
    const a = await agent("cfg-a");
    const info = await (await a.conn.carrier.nc.jetstreamManager()).streams.info(STREAMS.groups.name);
    expect(info.config.subjects).toEqual(["fleet.v1.groupchain.*"]);
    expect(info.config.max_msgs_per_subject).toBe(100_000);
    expect(info.config.discard).toBe("new");
    expect(info.config.discard_new_per_subject).toBe(true);
    expect(info.config.max_age).toBe(0);
    expect(info.config.storage).toBe("file");
  });

  it("holds an invite's use limit across connections and a nats-server restart: the third join of a two-use invite is 608", async () => {
    const owner = await agent("inv-owner");
    const [a, b, c] = [await agent("inv-a"), await agent("inv-b"), await agent("inv-c")];
    await append(owner, "inv", { case: "create", value: { policy: MEMBERS } });
    const invite = issueInvite("inv", owner.id, { uses: 2, ttlMs: 3_600_000 });
    expect((await append(a, "inv", { case: "join", value: { invite } })).members.map((m) => m.agent)).toEqual(["inv-owner", "inv-a"]);
    await append(b, "inv", { case: "join", value: { invite } });
    const third = await next(c.conn, c.id, "inv", { case: "join", value: { invite } });
    await expect(c.conn.appendGroupStatement(third).catch(codeOf)).resolves.toEqual([ErrorCode.SECURITY_TOKEN_USED, "/maxUses"]);
    // b follows the chain live through the restart.
    expect(members(await b.conn.followGroup("inv"))).toEqual(["inv-a", "inv-b", "inv-owner"]);

    await server.restart();
    // A connection made after the restart, on the file store's chain alone.
    const c2 = await agent(c.id);
    const again = await next(c2.conn, c.id, "inv", { case: "join", value: { invite } });
    await expect(c2.conn.appendGroupStatement(again).catch(codeOf)).resolves.toEqual([ErrorCode.SECURITY_TOKEN_USED, "/maxUses"]);
    // Published straight onto the subject, past the append's own check: every reader skips it.
    await publishRaw(c2.conn, "inv", again, c.id);
    const reader = await agent("inv-reader");
    const { state, statements } = await reader.conn.groupChains.read("inv");
    expect(members(state)).toEqual(["inv-a", "inv-b", "inv-owner"]);
    expect(statements).toHaveLength(3);
    expect(reader.rejects.map((e) => e.code)).toEqual([ErrorCode.SECURITY_TOKEN_USED]);
    // The shared surface hub clients use reads the same chain (fleet group ... --nats).
    expect(await fetchChain(reader.conn, "inv")).toEqual(statements);
    // Connections from before the restart go on: the owner (reconnected) kicks a, b's follower folds it.
    await expect.poll(() => [owner.conn.status, b.conn.status], { timeout: 15_000 }).toEqual(["connected", "connected"]);
    await append(owner, "inv", { case: "kick", value: { agent: "inv-a" } });
    await expect.poll(() => members(b.conn.groupState("inv")), { timeout: 10_000 }).toEqual(["inv-b", "inv-owner"]);
    expect(b.rejects.map((e) => e.code)).toEqual([ErrorCode.SECURITY_TOKEN_USED]);
  });

  it("lets exactly one of two joins racing for an invite's last use land; the other is 604 after reading again", async () => {
    const owner = await agent("race-owner");
    const [x, y] = [await agent("race-x"), await agent("race-y")];
    await append(owner, "race", { case: "create", value: { policy: MEMBERS } });
    const invite = issueInvite("race", owner.id, { uses: 1, ttlMs: 3_600_000 });
    // Both sign seq 2 against the same head.
    const jx = await next(x.conn, x.id, "race", { case: "join", value: { invite } });
    const jy = await next(y.conn, y.id, "race", { case: "join", value: { invite } });
    // y's join is stored after x read the chain and checked its own, before x stores it.
    const xs = x.conn.groupChains.append(jx, { beforeStore: async (attempt) => void (attempt === 0 && (await y.conn.appendGroupStatement(jy))) });
    await expect(xs.catch(codeOf)).resolves.toEqual([ErrorCode.SECURITY_REPLAY, "/seq"]);
    const { state, statements } = await owner.conn.groupChains.read("race");
    expect(members(state)).toEqual(["race-owner", "race-y"]);
    expect(statements).toHaveLength(2);

    // Truly concurrent: two more agents race for a fresh one-use invite; exactly one lands.
    const [p, q] = [await agent("race-p"), await agent("race-q")];
    const one = issueInvite("race", owner.id, { uses: 1, ttlMs: 3_600_000 });
    const [jp, jq] = [await next(p.conn, p.id, "race", { case: "join", value: { invite: one } }), await next(q.conn, q.id, "race", { case: "join", value: { invite: one } })];
    const results = await Promise.allSettled([p.conn.appendGroupStatement(jp), q.conn.appendGroupStatement(jq)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(isFleetError(lost.reason, ErrorCode.SECURITY_REPLAY)).toBe(true);
    expect((await owner.conn.groupChains.read("race")).statements).toHaveLength(3);
  });

  it("applies no forged or misplaced statement published straight onto the stream: a bad signature, a non-admin's kick, another Content-Type, another group, a stale date, a rotated-out key", async () => {
    const oldOwner = generateIdentity("forge-owner");
    const owner = await agent(oldOwner);
    const [a, b] = [await agent("forge-a"), await agent("forge-b")];
    await append(owner, "forge", { case: "create", value: { policy: MEMBERS } });
    const invite = issueInvite("forge", owner.id, { uses: 0, ttlMs: 3_600_000 });
    await append(a, "forge", { case: "join", value: { invite } });
    await append(b, "forge", { case: "join", value: { invite } });
    // b follows the chain live; every forgery below reaches it.
    expect(members(await b.conn.followGroup("forge"))).toEqual(["forge-a", "forge-b", "forge-owner"]);

    // The owner's kick of a, its signature broken.
    const kick = await next(owner.conn, owner.id, "forge", { case: "kick", value: { agent: "forge-a" } });
    const signed = fromBinary(SignedGroupStatementSchema, kick);
    signed.signature!.sig[0] ^= 1;
    await publishRaw(a.conn, "forge", toBinary(SignedGroupStatementSchema, signed), owner.id);
    // A plain member's kick, well signed, at the right seq.
    await publishRaw(a.conn, "forge", await next(a.conn, a.id, "forge", { case: "kick", value: { agent: "forge-b" } }), a.id);
    // The owner's own statements, but stored wrong: under another Content-Type, about another
    // group, dated ten minutes after it was stored.
    const own = await next(owner.conn, owner.id, "forge", { case: "kick", value: { agent: "forge-a" } });
    await publishRaw(a.conn, "forge", own, owner.id, "application/octet-stream");
    const { state: head } = await owner.conn.groupChains.read("forge");
    const elsewhere = signGroupStatement({ group: "forge-other", seq: head!.seq + 1n, prev: head!.head, at: Date.now(), action: { case: "kick", value: { agent: "forge-a" } } }, owner.id);
    await publishRaw(a.conn, "forge", elsewhere, owner.id);
    const old = signGroupStatement({ group: "forge", seq: head!.seq + 1n, prev: head!.head, at: Date.now() + 600_000, action: { case: "kick", value: { agent: "forge-a" } } }, owner.id);
    await publishRaw(a.conn, "forge", old, owner.id);
    // The owner rotates; a statement by the old key dated after the rotation adds nothing.
    await owner.conn.rotateKey(generateIdentity("forge-owner"));
    const stale = await next(owner.conn, oldOwner, "forge", { case: "kick", value: { agent: "forge-a" } });
    await publishRaw(a.conn, "forge", stale, oldOwner);

    const refusals = [
      [ErrorCode.SECURITY_SIGNATURE_INVALID, "/signature/sig"],
      [ErrorCode.SECURITY_UNAUTHORIZED, "/signer"],
      [ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, ""],
      [ErrorCode.SECURITY_UNAUTHORIZED, "/group"],
      [ErrorCode.SECURITY_CLOCK_SKEW, "/at"],
      [ErrorCode.SECURITY_KEY_MISMATCH, "/signature/keyId"],
    ];
    await expect.poll(() => b.rejects.map(codeOf)).toEqual(refusals);
    expect(members(b.conn.groupState("forge"))).toEqual(["forge-a", "forge-b", "forge-owner"]);
    // A reader connecting now (FLEET_KEYS history, then the chain) agrees, and the chain goes on:
    // the owner's real kick, signed with its new key, folds on the skipped statements' head.
    const late = await agent("forge-late");
    expect(members((await late.conn.groupChains.read("forge")).state)).toEqual(["forge-a", "forge-b", "forge-owner"]);
    // The one dated ten minutes ahead is now also past its key's window (the rotation came before that date): 607 first.
    expect(late.rejects.map(codeOf)).toEqual([...refusals.slice(0, 4), [ErrorCode.SECURITY_KEY_MISMATCH, "/signature/keyId"], refusals[5]]);
    await append(owner, "forge", { case: "kick", value: { agent: "forge-a" } });
    await expect.poll(() => members(b.conn.groupState("forge"))).toEqual(["forge-b", "forge-owner"]);
  });

  it("delivers group:ops from members only (a non-member's message is refused 603 at every recipient), and only to members", async () => {
    const owner = await agent("deliv-owner", ["deliv"]);
    await append(owner, "deliv", { case: "create", value: { policy: MEMBERS } });
    const invite = issueInvite("deliv", owner.id, { uses: 0, ttlMs: 3_600_000 });
    const member = await agent("deliv-member", ["deliv"]);
    await append(member, "deliv", { case: "join", value: { invite } });
    await expect.poll(() => members(owner.conn.groupState("deliv"))).toEqual(["deliv-member", "deliv-owner"]);
    await expect.poll(() => members(member.conn.groupState("deliv"))).toEqual(["deliv-member", "deliv-owner"]);
    await member.conn.carrier.flush();
    // An outsider asks for the group's subject too: without membership it is not subscribed.
    const outsider = await agent("deliv-outsider", ["deliv"]);
    const stranger = await agent("deliv-stranger");

    await stranger.conn.send({ to: "group:deliv", json: { from: "stranger" } });
    await member.conn.send({ to: "group:deliv", json: { from: "member" } });
    await expect.poll(() => owner.got).toEqual([{ from: "member" }]);
    await owner.conn.send({ to: "group:deliv", json: { from: "owner" } });
    await expect.poll(() => member.got).toEqual([{ from: "owner" }]);
    expect(owner.rejects.map(codeOf)).toEqual([[ErrorCode.SECURITY_UNAUTHORIZED, "/recipient/group"]]);
    expect(member.rejects.map(codeOf)).toEqual([[ErrorCode.SECURITY_UNAUTHORIZED, "/recipient/group"]]);
    expect(outsider.got).toEqual([]);
    // A sender following the chain is refused before it publishes.
    await expect(outsider.conn.send({ to: "group:deliv", json: { from: "outsider" } }).catch(codeOf)).resolves.toEqual([ErrorCode.SECURITY_UNAUTHORIZED, "/recipient/group"]);
  });

  it("stops delivering to a kicked member (its subscription ends), and starts once an agent joins", async () => {
    const owner = await agent("kick-owner", ["kick"]);
    await append(owner, "kick", { case: "create", value: { policy: MEMBERS } });
    const invite = issueInvite("kick", owner.id, { uses: 0, ttlMs: 3_600_000 });
    const a = await agent("kick-a", ["kick"]);
    const b = await agent("kick-b", ["kick"]);
    expect(a.conn.groupState("kick")?.members.has("kick-a")).toBe(false);
    await append(a, "kick", { case: "join", value: { invite } });
    await append(b, "kick", { case: "join", value: { invite } });
    // Each one subscribes once its own follower folded its join; a flush makes sure the server has the subscription.
    await expect.poll(() => [a.conn.groupState("kick")?.members.has("kick-a"), b.conn.groupState("kick")?.members.has("kick-b")]).toEqual([true, true]);
    await Promise.all([a.conn.carrier.flush(), b.conn.carrier.flush()]);
    await owner.conn.send({ to: "group:kick", json: { n: 1 } });
    await expect.poll(() => [a.got, b.got]).toEqual([[{ n: 1 }], [{ n: 1 }]]);

    await append(owner, "kick", { case: "kick", value: { agent: "kick-a" } });
    await expect.poll(() => a.conn.groupState("kick")?.members.has("kick-a")).toBe(false);
    await a.conn.carrier.flush();
    await owner.conn.send({ to: "group:kick", json: { n: 2 } });
    // NATS keeps one publisher's order: once the broadcast sent after it is in, n: 2 would have been too.
    await owner.conn.send({ to: "fleet:broadcast", json: { n: 3 } });
    await expect.poll(() => b.got).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await expect.poll(() => a.got).toEqual([{ n: 1 }, { n: 3 }]);
    // Not subscribed any more, so nothing even reaches it to refuse.
    expect(a.rejects).toEqual([]);
  });
});

describe.skipIf(!hasNatsServer)("NATS group chains: bounds", () => {
  let server: NatsServerHandle;
  const open: NatsFleetConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await server?.stop();
  });
  const connect = async (id: Identity) => {
    // A FLEET_GROUPS that holds 3 statements per group (the default is MAX_GROUP_STATEMENTS, 100,000).
    const c = await connectNats({ url: server.url, identity: id, registry: false, streams: { statementsPerGroup: 3 } });
    open.push(c);
    return c;
  };
  const sign = async (via: NatsFleetConnection, by: Identity, action: StatementInit["action"]) => {
    const { state } = await via.groupChains.read("full");
    return signGroupStatement({ group: "full", seq: (state?.seq ?? 0n) + 1n, prev: state?.head ?? new Uint8Array(), at: Date.now(), action }, by);
  };

  it("refuses the statement past the per-group limit (804) and keeps the chain's first statements", async () => {
    const ids = [generateIdentity("full-owner"), generateIdentity("full-a"), generateIdentity("full-b"), generateIdentity("full-c")];
    const [owner, a, b, c] = await Promise.all(ids.map(connect));
    const info = await (await owner.carrier.nc.jetstreamManager()).streams.info(STREAMS.groups.name);
    expect(info.config.max_msgs_per_subject).toBe(3);
    await owner.appendGroupStatement(await sign(owner, ids[0], { case: "create", value: { policy: MEMBERS } }));
    const invite = issueInvite("full", ids[0], { uses: 0, ttlMs: 3_600_000 });
    await a.appendGroupStatement(await sign(a, ids[1], { case: "join", value: { invite } }));
    await b.appendGroupStatement(await sign(b, ids[2], { case: "join", value: { invite } }));
    const fourth = await sign(c, ids[3], { case: "join", value: { invite } });
    await expect(c.appendGroupStatement(fourth).catch((e) => (e as FleetError).code)).resolves.toBe(ErrorCode.DELIVERY_BUSY);
    const { state, statements } = await owner.groupChains.read("full");
    expect(statements).toHaveLength(3);
    expect(state?.owner).toBe("full-owner");
    expect([...state!.members.keys()].sort()).toEqual(["full-a", "full-b", "full-owner"]);
  });

  it("follows at most its limit of groups (804 for the next, room again after unfollowing)", async () => {
    const id = generateIdentity("follow-bound");
    const conn = await connect(id);
    const chains = new NatsGroupChains(
      { carrier: conn.carrier, keys: new NatsGroupKeys(conn.keys, "tofu"), identity: id, clock: systemClock, reject: () => {}, changed: () => {} },
      2,
    );
    try {
      await chains.follow("g1");
      await chains.follow("g2");
      await expect(chains.follow("g3").catch((e) => (e as FleetError).code)).resolves.toBe(ErrorCode.DELIVERY_BUSY);
      await chains.unfollow("g1");
      await chains.follow("g3");
    } finally {
      await chains.stop();
    }
  });
});

describe("NATS group keys: bounds", () => {
  it("holds at most MAX_GROUP_KEYS retired keys (804 for the next); a key retired twice counts once", () => {
    const keys = new NatsGroupKeys(new PinnedKeys(), "tofu");
    const key = (i: number) => {
      const k = new Uint8Array(32);
      new DataView(k.buffer).setUint32(0, i);
      return k;
    };
    for (let i = 0; i < MAX_GROUP_KEYS / 2; i++) keys.retire({ agent: `k${i}`, publicKey: key(i), at: 1 }, `next-${i}`);
    keys.retire({ agent: "k0", publicKey: key(0), at: 1 }, "next-0");
    expect(() => keys.retire({ agent: "over", publicKey: key(MAX_GROUP_KEYS), at: 1 }, "next-over")).toThrow(expect.objectContaining({ code: ErrorCode.DELIVERY_BUSY }));
  });
});
