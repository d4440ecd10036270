// The group state machine: every statement kind, folded from the statements alone, and every
// refusal with its code (spec/groups.md).
import { describe, expect, it } from "vitest";
import { GroupRole, GroupSendPolicy } from "../../../generated/proto/fleet/v1/group_pb.js";
import { fromBase64Url, identityFromSeed, toBase64Url, type Identity } from "../../../runtime/crypto/index.js";
import { ErrorCode } from "../../../runtime/errors.js";
import {
  applyGroupStatement,
  checkSend,
  foldGroup,
  issueInvite,
  KeyHistory,
  MAX_GROUP_MEMBERS,
  maySend,
  signGroupStatement,
  statementHash,
  type GroupState,
  type StatementInit,
} from "../../../runtime/protocol/groups/index.js";
import { SignedGroupStatementSchema } from "../../../generated/proto/fleet/v1/group_pb.js";
import { parseMessage } from "../../../runtime/codec/index.js";
import { codeOf } from "../helpers.js";

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const seed = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i) & 0xff);
const ids = {
  owner: identityFromSeed("owner", seed(1)),
  admin: identityFromSeed("admin", seed(2)),
  bob: identityFromSeed("bob", seed(3)),
  carol: identityFromSeed("carol", seed(4)),
  mallory: identityFromSeed("mallory", seed(5)),
};
const ownerNext = identityFromSeed("owner", seed(6));

function keys(): KeyHistory {
  const k = new KeyHistory();
  for (const id of Object.values(ids)) k.add(id.agent, id.publicKey);
  return k;
}

/** A chain under construction: each statement names the previous one. */
class Chain {
  readonly statements: Uint8Array[] = [];
  state: GroupState | undefined;
  constructor(readonly keys: KeyHistory, public at = T0) {}
  next(action: StatementInit["action"], by: Identity, over: Partial<StatementInit> = {}): Uint8Array {
    this.at += 1000;
    return signGroupStatement(
      { group: "ops", seq: (this.state?.seq ?? 0n) + 1n, prev: this.state ? this.state.head : new Uint8Array(), action, at: this.at, ...over },
      by,
    );
  }
  apply(bytes: Uint8Array): GroupState {
    this.state = applyGroupStatement(this.state, bytes, this.keys);
    this.statements.push(bytes);
    return this.state;
  }
  do(action: StatementInit["action"], by: Identity, over: Partial<StatementInit> = {}): GroupState {
    return this.apply(this.next(action, by, over));
  }
  refuse(action: StatementInit["action"], by: Identity, over: Partial<StatementInit> = {}): ErrorCode {
    const before = this.state;
    const code = codeOf(() => applyGroupStatement(this.state, this.next(action, by, over), this.keys));
    expect(this.state).toBe(before);
    return code;
  }
  invite(by: Identity, opts: Parameters<typeof issueInvite>[2] = {}, group = "ops"): string {
    return issueInvite(group, by, { clock: { now: () => this.at, setTimer: () => 0, clearTimer: () => {} }, ...opts });
  }
}

const policy = (send = GroupSendPolicy.MEMBERS, joinApproval = false) => ({ send, joinApproval });
const create = (send = GroupSendPolicy.MEMBERS, joinApproval = false) => ({ case: "create" as const, value: { policy: policy(send, joinApproval) } });
const join = (invite: string) => ({ case: "join" as const, value: { invite } });

function started(send = GroupSendPolicy.MEMBERS, joinApproval = false): Chain {
  const c = new Chain(keys());
  c.do(create(send, joinApproval), ids.owner);
  return c;
}

describe("group statements: the state folded from the chain", () => {
  it("create makes the signer owner; invite, join, role, mute, kick, leave, transfer and policy change the state, and a fresh fold of the statements agrees", () => {
    const c = started();
    expect(c.state!.owner).toBe("owner");
    expect(c.state!.members.get("owner")?.role).toBe(GroupRole.OWNER);
    const inv = c.invite(ids.owner, { uses: 3 });
    c.do(join(inv), ids.admin);
    c.do(join(inv), ids.bob);
    c.do({ case: "setRole", value: { agent: "admin", role: GroupRole.ADMIN } }, ids.owner);
    c.do(join(c.invite(ids.admin)), ids.carol);
    c.do({ case: "mute", value: { agent: "carol", muted: true } }, ids.admin);
    expect(maySend(c.state!, "carol")).toBe(false);
    expect(codeOf(() => checkSend(c.state!, "carol"))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    c.do({ case: "mute", value: { agent: "carol", muted: false } }, ids.admin);
    expect(maySend(c.state!, "carol")).toBe(true);
    c.do({ case: "kick", value: { agent: "carol" } }, ids.admin);
    expect(c.state!.members.has("carol")).toBe(false);
    c.do({ case: "leave", value: { reason: "done" } }, ids.bob);
    c.do({ case: "setPolicy", value: { policy: policy(GroupSendPolicy.ADMINS) } }, ids.admin);
    expect(maySend(c.state!, "admin")).toBe(true);
    c.do({ case: "transfer", value: { agent: "admin" } }, ids.owner);
    expect(c.state!.owner).toBe("admin");
    expect(c.state!.members.get("owner")?.role).toBe(GroupRole.ADMIN);

    const fresh = foldGroup(c.statements, keys());
    expect(fresh.seq).toBe(c.state!.seq);
    expect(fresh.owner).toBe("admin");
    expect([...fresh.members.keys()].sort()).toEqual(["admin", "owner"]);
    expect(fresh.policy.send).toBe(GroupSendPolicy.ADMINS);
    expect(fresh.inviteUses.get([...fresh.inviteUses.keys()][0]!)).toBe(2);
    expect(fresh.head).toEqual(statementHash(parseMessage(SignedGroupStatementSchema, c.statements.at(-1)!).statement));
  });

  it("an announce channel lets only admins send; a non-member never may", () => {
    const c = started(GroupSendPolicy.ADMINS);
    c.do(join(c.invite(ids.owner)), ids.bob);
    expect(maySend(c.state!, "owner")).toBe(true);
    expect(maySend(c.state!, "bob")).toBe(false);
    expect(maySend(c.state!, "mallory")).toBe(false);
    expect(codeOf(() => checkSend(c.state!, "mallory"))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
  });

  it("with join approval a join is pending until an admin approves it; a pending agent may not send", () => {
    const c = started(GroupSendPolicy.MEMBERS, true);
    c.do(join(c.invite(ids.owner)), ids.bob);
    expect(c.state!.pending.has("bob")).toBe(true);
    expect(maySend(c.state!, "bob")).toBe(false);
    expect(c.refuse({ case: "approve", value: { agent: "bob" } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    c.do({ case: "approve", value: { agent: "bob" } }, ids.owner);
    expect(maySend(c.state!, "bob")).toBe(true);
  });
});

describe("group statements: refusals", () => {
  it("forged: a flipped signature bit or a statement signed by someone else's key is 601 / 607", () => {
    const c = started();
    const good = c.next({ case: "setPolicy", value: { policy: policy(GroupSendPolicy.ADMINS) } }, ids.owner);
    const bad = good.slice();
    bad[bad.length - 1]! ^= 1;
    expect(codeOf(() => applyGroupStatement(c.state, bad, c.keys))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // mallory signs a statement claiming to be the owner
    const imposter = { ...ids.mallory, agent: "owner", sign: ids.mallory.sign.bind(ids.mallory), signAsync: ids.mallory.signAsync.bind(ids.mallory) } as Identity;
    expect(codeOf(() => applyGroupStatement(c.state, c.next({ case: "kick", value: { agent: "bob" } }, imposter), c.keys))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    const unknown = identityFromSeed("owner", seed(9));
    expect(codeOf(() => applyGroupStatement(c.state, c.next({ case: "kick", value: { agent: "bob" } }, unknown), c.keys))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("replayed: applying a statement again, one at a taken seq, or one naming another head is 604", () => {
    const c = started();
    const inv = c.invite(ids.owner, { uses: 5 });
    const joinBob = c.next(join(inv), ids.bob);
    c.apply(joinBob);
    expect(codeOf(() => applyGroupStatement(c.state, joinBob, c.keys))).toBe(ErrorCode.SECURITY_REPLAY);
    // a fork: another statement at seq 2
    expect(c.refuse(join(inv), ids.carol, { seq: 2n, prev: statementHash(parseMessage(SignedGroupStatementSchema, c.statements[0]!).statement) })).toBe(ErrorCode.SECURITY_REPLAY);
    expect(c.refuse(join(inv), ids.carol, { prev: new Uint8Array(32) })).toBe(ErrorCode.SECURITY_REPLAY);
    expect(c.refuse(join(inv), ids.carol, { seq: 9n })).toBe(ErrorCode.SECURITY_REPLAY);
    expect(c.refuse(create(), ids.owner)).toBe(ErrorCode.SECURITY_REPLAY);
    // dated before the head
    expect(c.refuse(join(inv), ids.carol, { at: T0 })).toBe(ErrorCode.SECURITY_CLOCK_SKEW);
    // another group's statement cannot extend this chain
    expect(c.refuse(join(inv), ids.carol, { group: "dev" })).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    // a chain that does not start with a create
    expect(codeOf(() => foldGroup([joinBob], keys()))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
  });

  it("invites: the Nth+1 use is 608, also when the chain is folded afresh (a restart); expired 602; other group, other holder 603", () => {
    const c = started();
    const inv = c.invite(ids.owner, { uses: 2 });
    c.do(join(inv), ids.bob);
    c.do(join(inv), ids.carol);
    expect(c.refuse(join(inv), ids.admin)).toBe(ErrorCode.SECURITY_TOKEN_USED);
    // Leaving does not give a use back; a restart (a fresh fold) still counts both.
    c.do({ case: "leave", value: { reason: "" } }, ids.bob);
    const restarted = new Chain(keys(), c.at);
    for (const s of c.statements) restarted.apply(s);
    expect(restarted.refuse(join(inv), ids.admin)).toBe(ErrorCode.SECURITY_TOKEN_USED);

    const short = c.invite(ids.owner, { ttlMs: 500 });
    expect(c.refuse(join(short), ids.admin)).toBe(ErrorCode.SECURITY_TOKEN_EXPIRED);
    expect(c.refuse(join(c.invite(ids.owner, {}, "dev")), ids.admin)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse(join(c.invite(ids.owner, { holder: "bob" })), ids.admin)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse(join(c.invite(ids.owner, { holder: ids.bob.keyId })), ids.admin)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    c.do(join(c.invite(ids.owner, { holder: ids.admin.keyId })), ids.admin);
    // an invite issued by a plain member is refused
    expect(c.refuse(join(c.invite(ids.carol)), ids.mallory)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    // a tampered invite
    const raw = fromBase64Url(c.invite(ids.owner).slice("fleet1.".length));
    raw[raw.length - 1]! ^= 1;
    expect(c.refuse(join("fleet1." + toBase64Url(raw)), ids.mallory)).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("kick, mute, role and transfer need the right role (603); the owner is never kicked and cannot leave", () => {
    const c = started();
    const inv = c.invite(ids.owner);
    c.do(join(inv), ids.admin);
    c.do(join(inv), ids.bob);
    c.do(join(inv), ids.carol);
    expect(c.refuse({ case: "kick", value: { agent: "carol" } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "mute", value: { agent: "carol", muted: true } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "setRole", value: { agent: "bob", role: GroupRole.ADMIN } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "transfer", value: { agent: "bob" } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "setPolicy", value: { policy: policy(GroupSendPolicy.ADMINS) } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "approve", value: { agent: "mallory" } }, ids.bob)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    c.do({ case: "setRole", value: { agent: "admin", role: GroupRole.ADMIN } }, ids.owner);
    c.do({ case: "setRole", value: { agent: "bob", role: GroupRole.ADMIN } }, ids.owner);
    expect(c.refuse({ case: "kick", value: { agent: "owner" } }, ids.admin)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "kick", value: { agent: "bob" } }, ids.admin)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "setRole", value: { agent: "bob", role: GroupRole.OWNER } }, ids.owner)).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
    expect(c.refuse({ case: "leave", value: { reason: "" } }, ids.owner)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(c.refuse({ case: "leave", value: { reason: "" } }, ids.mallory)).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    c.do({ case: "kick", value: { agent: "bob" } }, ids.owner);
    c.do({ case: "kick", value: { agent: "carol" } }, ids.admin);
  });

  it("a statement signed by a rotated-out key is 607; what that key signed before the rotation still folds", () => {
    const k = keys();
    const c = new Chain(k);
    c.do(create(), ids.owner);
    c.do(join(c.invite(ids.owner)), ids.bob);
    k.rotate("owner", ownerNext.publicKey, c.at + 500);
    expect(c.refuse({ case: "kick", value: { agent: "bob" } }, ids.owner)).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    // an invite signed by the retired key no longer admits anyone
    expect(c.refuse(join(issueInvite("ops", ids.owner, { clock: { now: () => T0, setTimer: () => 0, clearTimer: () => {} }, ttlMs: 3_600_000 })), ids.carol)).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    c.do({ case: "kick", value: { agent: "bob" } }, ownerNext);
    const history = keys().rotate("owner", ownerNext.publicKey, T0 + 2500);
    expect(foldGroup(c.statements, history).members.has("bob")).toBe(false);
  });

  it(`members and pending agents are bounded at ${MAX_GROUP_MEMBERS}: the next approve is 804`, () => {
    const c = started();
    let state = c.state!;
    const k = c.keys;
    // Build the state directly through approves (signed by the owner) up to the bound.
    for (let i = 1; i < MAX_GROUP_MEMBERS; i++) {
      c.at += 1;
      state = applyGroupStatement(state, signGroupStatement({ group: "ops", seq: state.seq + 1n, prev: state.head, at: c.at, action: { case: "approve", value: { agent: `m${i}` } } }, ids.owner), k);
    }
    expect(state.members.size).toBe(MAX_GROUP_MEMBERS);
    const over = signGroupStatement({ group: "ops", seq: state.seq + 1n, prev: state.head, at: c.at + 1, action: { case: "approve", value: { agent: "one-more" } } }, ids.owner);
    expect(codeOf(() => applyGroupStatement(state, over, k))).toBe(ErrorCode.DELIVERY_BUSY);
  });
});
