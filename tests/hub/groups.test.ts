// Groups enforced on the hub (real TCP, in-process hub with SQLite) and at the recipient:
// group:<name> of a group with a chain reaches only its current members; a sender the policy
// forbids is refused 603 and nothing is stored; invite use limits hold across a hub restart;
// a recipient folding the chain itself refuses a group message from a non-member.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GroupRole, GroupSendPolicy } from "../../generated/proto/fleet/v1/group_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { appendStatement, fetchChain, GroupView } from "../../runtime/client/groups.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { createKeyRotation, generateIdentity, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError, isFleetError } from "../../runtime/errors.js";
import { issueInvite, KeyHistory, signGroupStatement, type StatementInit } from "../../runtime/protocol/groups/index.js";
import { cleanup, inProcessHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

const ids = { owner: generateIdentity("owner"), bob: generateIdentity("bob"), carol: generateIdentity("carol"), mallory: generateIdentity("mallory") };

/** Signs the next statement of group ops against the hub's current chain. */
async function next(conn: HubConnection, by: Identity, action: StatementInit["action"]): Promise<Uint8Array> {
  let seq = 0n;
  let prev = new Uint8Array();
  try {
    const chain = await fetchChain(conn, "ops");
    const view = new GroupView(keysOf());
    const state = view.apply("ops", chain);
    seq = state.seq;
    prev = state.head as Uint8Array<ArrayBuffer>;
  } catch (e) {
    if (!isFleetError(e, ErrorCode.REGISTRY_AGENT_NOT_FOUND)) throw e;
  }
  return signGroupStatement({ group: "ops", seq: seq + 1n, prev, at: Date.now(), action }, by);
}

function keysOf(): KeyHistory {
  const k = new KeyHistory();
  for (const i of Object.values(ids)) k.add(i.agent, i.publicKey);
  return k;
}

function inbox(c: HubConnection) {
  const got: Envelope[] = [];
  c.onMessage((env) => got.push(env));
  return got;
}

const refusedWith = (code: ErrorCode) => (e: unknown) => isFleetError(e, code);

describe("hub: groups with a chain", () => {
  it("delivers group:ops only to current members, refuses non-members and muted members (603, nothing stored), and keeps refusing after a kick", async () => {
    const hub = await inProcessHub();
    const c = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([n, id]) => [n, await connectHub({ port: hub.port, identity: id, groups: n === "mallory" ? ["ops"] : [] })]))) as Record<keyof typeof ids, HubConnection>;
    const got = { bob: inbox(c.bob), carol: inbox(c.carol), mallory: inbox(c.mallory) };
    await appendStatement(c.owner, await next(c.owner, ids.owner, { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }));
    const inv = issueInvite("ops", ids.owner, { uses: 2 });
    await appendStatement(c.bob, await next(c.bob, ids.bob, { case: "join", value: { invite: inv } }));
    await appendStatement(c.carol, await next(c.carol, ids.carol, { case: "join", value: { invite: inv } }));
    // The third use of a two-use invite: 608.
    await expect(appendStatement(c.mallory, await next(c.mallory, ids.mallory, { case: "join", value: { invite: inv } }))).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_TOKEN_USED));

    await c.owner.send({ to: "group:ops", json: { n: 1 }, requiresAck: true });
    await until(() => got.bob.length === 1 && got.carol.length === 1);
    // mallory announced ops in its registry record: with a chain, that counts for nothing.
    expect(got.mallory).toEqual([]);
    await expect(c.mallory.send({ to: "group:ops", json: { n: 2 }, requiresAck: true })).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_UNAUTHORIZED));

    await appendStatement(c.owner, await next(c.owner, ids.owner, { case: "mute", value: { agent: "carol", muted: true } }));
    await expect(c.carol.send({ to: "group:ops", json: { n: 3 }, requiresAck: true })).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_UNAUTHORIZED));
    // A kick by a non-admin is refused by the hub's fold.
    await expect(appendStatement(c.bob, await next(c.bob, ids.bob, { case: "kick", value: { agent: "carol" } }))).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_UNAUTHORIZED));
    await appendStatement(c.owner, await next(c.owner, ids.owner, { case: "kick", value: { agent: "bob" } }));
    await expect(c.bob.send({ to: "group:ops", json: { n: 4 }, requiresAck: true })).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_UNAUTHORIZED));
    await c.owner.send({ to: "group:ops", json: { n: 5 }, requiresAck: true });
    await until(() => got.carol.length === 2);
    expect(got.bob.length).toBe(1);
    // Nothing from a refused sender was stored for anyone.
    expect(hub.hub.store.pendingFor("carol", Date.now()).length + hub.hub.store.pendingFor("bob", Date.now()).length).toBe(0);
    for (const x of Object.values(c)) await x.close();
  });

  it("the invite use limit holds after a hub restart (the chain is stored and folded again)", async () => {
    const storeDir = join(tmpDir(), "hub");
    const hubId = generateIdentity("fleet-hub");
    const inv = issueInvite("ops", ids.owner, { uses: 1 });
    {
      const hub = await inProcessHub({ storeDir, identity: hubId });
      const owner = await connectHub({ port: hub.port, identity: ids.owner });
      const bob = await connectHub({ port: hub.port, identity: ids.bob });
      await appendStatement(owner, await next(owner, ids.owner, { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }));
      await appendStatement(bob, await next(bob, ids.bob, { case: "join", value: { invite: inv } }));
      await owner.close();
      await bob.close();
      await hub.close();
    }
    const hub = await inProcessHub({ storeDir, identity: hubId });
    expect([...hub.hub.groups.state("ops")!.members.keys()].sort()).toEqual(["bob", "owner"]);
    const carol = await connectHub({ port: hub.port, identity: ids.carol });
    await expect(appendStatement(carol, await next(carol, ids.carol, { case: "join", value: { invite: inv } }))).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_TOKEN_USED));
    // A replayed statement (bob's join again) is 604.
    const chain = await fetchChain(carol, "ops");
    await expect(appendStatement(carol, chain[1]!)).rejects.toSatisfy(refusedWith(ErrorCode.SECURITY_REPLAY));
    await carol.close();
  });

  it("a recipient folds the chain itself: a group message from a sender the chain does not allow is refused there, whatever the hub delivers", async () => {
    // A hub without a chain for ops routes by announced membership: the lying-hub case.
    const hub = await inProcessHub();
    const owner = await connectHub({ port: hub.port, identity: ids.owner, groups: ["ops"] });
    const bob = await connectHub({ port: hub.port, identity: ids.bob, groups: ["ops"] });
    const mallory = await connectHub({ port: hub.port, identity: ids.mallory, groups: ["ops"] });
    const create = signGroupStatement({ group: "ops", seq: 1n, prev: new Uint8Array(), at: Date.now(), action: { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } } }, ids.owner);
    const view = new GroupView(keysOf());
    const state = view.apply("ops", [create]);
    // The invite first: a join dated before its invite was issued (even by 1 ms) is refused (603, not yet valid).
    const invite = issueInvite("ops", ids.owner);
    const join = signGroupStatement({ group: "ops", seq: 2n, prev: state.head, at: Date.now(), action: { case: "join", value: { invite } } }, ids.bob);
    view.apply("ops", [create, join]);
    const accepted: Envelope[] = [];
    const refused: FleetError[] = [];
    bob.onMessage(view.guard((env) => accepted.push(env), (_env, e) => refused.push(e)));
    await mallory.send({ to: "group:ops", json: { from: "mallory" }, requiresAck: true });
    await owner.send({ to: "group:ops", json: { from: "owner" }, requiresAck: true });
    await until(() => accepted.length + refused.length === 2);
    expect(accepted.map((e) => e.sender)).toEqual(["owner"]);
    expect(refused.map((e) => e.code)).toEqual([ErrorCode.SECURITY_UNAUTHORIZED]);
    for (const x of [owner, bob, mallory]) await x.close();
  });
});

describe("recipients check group messages by default", () => {
  it("a hub that lies about membership cannot make a non-member's message reach the application; order is kept; groupCheck: false turns it off", async () => {
    const hub = await inProcessHub();
    const owner = await connectHub({ port: hub.port, identity: ids.owner });
    await appendStatement(owner, await next(owner, ids.owner, { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }));
    const invite = issueInvite("ops", ids.owner);
    const bob = await connectHub({ port: hub.port, identity: ids.bob });
    await appendStatement(bob, await next(bob, ids.bob, { case: "join", value: { invite } }));
    const carol = await connectHub({ port: hub.port, identity: ids.carol, groupCheck: false });
    await appendStatement(carol, await next(carol, ids.carol, { case: "join", value: { invite } }));
    const mallory = await connectHub({ port: hub.port, identity: ids.mallory });
    // The lie: the hub's state counts mallory as a member (its stored chain, which clients fold, does not).
    const groups = hub.hub.groups;
    const real = groups.state.bind(groups);
    groups.state = (g: string) => {
      const s = real(g);
      if (!s) return s;
      const members = new Map(s.members);
      members.set("mallory", { role: GroupRole.MEMBER, muted: false });
      return { ...s, members };
    };
    const got = { bob: inbox(bob), carol: inbox(carol) };
    const dropped: FleetError[] = [];
    bob.onDrop((e) => dropped.push(e));
    await owner.send({ to: "group:ops", json: { n: 1 }, requiresAck: true });
    await mallory.send({ to: "group:ops", json: { n: 2 }, requiresAck: true });
    await owner.send({ to: "group:ops", json: { n: 3 }, requiresAck: true });
    await until(() => got.bob.length === 2 && got.carol.length === 3);
    // bob's own fold refused mallory (603), and kept the order of what it accepted.
    expect(got.bob.map((e) => e.sender)).toEqual(["owner", "owner"]);
    expect(dropped.map((e) => e.code)).toEqual([ErrorCode.SECURITY_UNAUTHORIZED]);
    // carol turned the check off: the hub's word is all she has.
    expect(got.carol.map((e) => e.sender)).toEqual(["owner", "mallory", "owner"]);
    for (const x of [owner, bob, carol, mallory]) await x.close();
  });

  it("keeps its fold current: a member who joined after the recipient folded the chain is heard (the chain is fetched again)", async () => {
    const hub = await inProcessHub();
    const owner = await connectHub({ port: hub.port, identity: ids.owner });
    await appendStatement(owner, await next(owner, ids.owner, { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }));
    const invite = issueInvite("ops", ids.owner);
    const bob = await connectHub({ port: hub.port, identity: ids.bob });
    await appendStatement(bob, await next(bob, ids.bob, { case: "join", value: { invite } }));
    const got = inbox(bob);
    await owner.send({ to: "group:ops", json: { n: 1 }, requiresAck: true });
    await until(() => got.length === 1);
    const carol = await connectHub({ port: hub.port, identity: ids.carol });
    await appendStatement(carol, await next(carol, ids.carol, { case: "join", value: { invite } }));
    await carol.send({ to: "group:ops", json: { n: 2 }, requiresAck: true });
    await until(() => got.length === 2);
    expect(got.map((e) => e.sender)).toEqual(["owner", "carol"]);
    for (const x of [owner, bob, carol]) await x.close();
  });
});

describe("recipients learn many signers at once", () => {
  it("folds a chain with a dozen signers (their keys read from the registry in one go) and hears a member", async () => {
    const hub = await inProcessHub();
    const owner = await connectHub({ port: hub.port, identity: ids.owner });
    await appendStatement(owner, await next(owner, ids.owner, { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }));
    const invite = issueInvite("ops", ids.owner);
    const crew = Array.from({ length: 12 }, (_, i) => generateIdentity(`crew-${i}`));
    const conns: HubConnection[] = [];
    for (const id of crew) {
      const c = await connectHub({ port: hub.port, identity: id, groupCheck: false });
      conns.push(c);
      const chain = await fetchChain(c, "ops");
      const k = keysOf();
      for (const x of crew) k.add(x.agent, x.publicKey);
      const state = new GroupView(k).apply("ops", chain);
      await appendStatement(c, signGroupStatement({ group: "ops", seq: state.seq + 1n, prev: state.head, at: Date.now(), action: { case: "join", value: { invite } } }, id));
    }
    const reader = crew[11]!;
    const got: Envelope[] = [];
    const dropped: FleetError[] = [];
    // A fresh connection of the last joiner, with the default check: it knows none of the twelve signers.
    const fresh = await connectHub({ port: hub.port, identity: reader });
    fresh.onMessage((env) => got.push(env));
    fresh.onDrop((e) => dropped.push(e));
    await conns[3]!.send({ to: "group:ops", json: { n: 1 }, requiresAck: true });
    await until(() => got.length + dropped.length === 1);
    expect(dropped).toEqual([]);
    expect(got.map((e) => e.sender)).toEqual(["crew-3"]);
    for (const x of [owner, fresh, ...conns]) await x.close();
  });
});

describe("hub: every refused statement of the issue's bad-input list, on a real hub (nothing changes)", () => {
  it("a forged statement (601), an invite expired (602), for another group or bound to another key (603), and a statement signed by a rotated-out key (601)", async () => {
    const hub = await inProcessHub();
    const owner = await connectHub({ port: hub.port, identity: ids.owner });
    const bob = await connectHub({ port: hub.port, identity: ids.bob });
    await appendStatement(owner, await next(owner, ids.owner, { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } }));
    const seq = () => hub.hub.groups.state("ops")!.seq;
    const refusedAt = async (bytes: Uint8Array, code: ErrorCode, by: HubConnection = bob) => {
      const before = seq();
      await expect(appendStatement(by, bytes)).rejects.toSatisfy(refusedWith(code));
      expect(seq()).toBe(before);
    };
    // Forged: one bit of the signature flipped.
    const forged = await next(bob, ids.bob, { case: "join", value: { invite: issueInvite("ops", ids.owner) } });
    forged[forged.length - 1] ^= 1;
    await refusedAt(forged, ErrorCode.SECURITY_SIGNATURE_INVALID);
    // Invites: expired (issued two days ago for one day), for another group, bound to another agent's key.
    const past = { now: () => Date.now() - 2 * 86_400_000, setTimer: () => 0, clearTimer: () => {} };
    await refusedAt(await next(bob, ids.bob, { case: "join", value: { invite: issueInvite("ops", ids.owner, { ttlMs: 86_400_000, clock: past as never }) } }), ErrorCode.SECURITY_TOKEN_EXPIRED);
    await refusedAt(await next(bob, ids.bob, { case: "join", value: { invite: issueInvite("dev", ids.owner) } }), ErrorCode.SECURITY_UNAUTHORIZED);
    await refusedAt(await next(bob, ids.bob, { case: "join", value: { invite: issueInvite("ops", ids.owner, { holder: ids.carol.keyId }) } }), ErrorCode.SECURITY_UNAUTHORIZED);
    // The owner rotates its key; a statement signed with the old one is refused (the hub verifies with the keys it pins now).
    const ownerNext = generateIdentity("owner");
    const closed = new Promise<void>((r) => owner.onClose(() => r()));
    await owner.send({ to: "fleet:hub", requiresAck: true, body: { case: "keyRotation", value: createKeyRotation(ids.owner, ownerNext, Date.now()) } });
    await closed;
    await refusedAt(await next(bob, ids.owner, { case: "setPolicy", value: { policy: { send: GroupSendPolicy.ADMINS, joinApproval: false } } }), ErrorCode.SECURITY_SIGNATURE_INVALID);
    // The new key signs for the owner.
    const renewed = await connectHub({ port: hub.port, identity: ownerNext });
    await appendStatement(renewed, await next(renewed, ownerNext, { case: "setPolicy", value: { policy: { send: GroupSendPolicy.ADMINS, joinApproval: false } } }));
    expect(hub.hub.groups.state("ops")!.policy.send).toBe(GroupSendPolicy.ADMINS);
    for (const x of [bob, renewed]) await x.close();
  });
});
