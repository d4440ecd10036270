// The group state machine (spec/groups.md "Folding"): a pure function from the state so far
// and one signed statement to the next state. Nothing but the statements and the signers' keys
// goes in, so every agent that folds the same chain holds the same members, roles and policy.
import { GroupRole, GroupSendPolicy, type GroupPolicy } from "../../../generated/proto/fleet/v1/group_pb.js";
import { constantTimeEqual } from "../../crypto/bytes.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { checkInvite } from "./invite.js";
import type { GroupKeys } from "./keys.js";
import { openGroupStatement, statementHash, type OpenedStatement } from "./statement.js";

/** Members plus pending agents per group (documented bound; the next join or approve is 804). */
export const MAX_GROUP_MEMBERS = 4096;
/** Limited invites whose uses a group counts (documented bound; a join with a new one past it is 804). */
export const MAX_COUNTED_INVITES = 4096;
/** Statements one group's chain holds, on a hub or in FLEET_GROUPS (documented bound; the next is 804). */
export const MAX_GROUP_STATEMENTS = 100_000;
/** Groups with a chain one hub holds, or one agent follows (documented bound; the next is 804). */
export const MAX_CHAINED_GROUPS = 1024;
/** A statement's `at` may be at most this far from the time it is stored (hub append, JetStream timestamp): 605. */
export const GROUP_STATEMENT_SKEW_MS = 120_000;

export interface GroupMember {
  role: GroupRole;
  muted: boolean;
}

export interface GroupState {
  readonly group: string;
  /** seq of the last statement applied. */
  readonly seq: bigint;
  /** SHA-256 of the last statement's bytes (the next one's prev). */
  readonly head: Uint8Array;
  /** Unix ms of the last statement. */
  readonly at: number;
  readonly owner: string;
  readonly policy: { send: GroupSendPolicy; joinApproval: boolean };
  readonly members: ReadonlyMap<string, GroupMember>;
  readonly pending: ReadonlySet<string>;
  /** Uses of limited invites so far, by token_id. */
  readonly inviteUses: ReadonlyMap<string, number>;
}

const refuse = (message: string, pointer = "") => new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, message, { pointer });

function policyOf(p: GroupPolicy | undefined, pointer: string): GroupState["policy"] {
  if (!p || p.send === GroupSendPolicy.UNSPECIFIED) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "policy.send is required", { pointer });
  return { send: p.send, joinApproval: p.joinApproval };
}

const isAdmin = (m: GroupMember | undefined) => m !== undefined && m.role >= GroupRole.ADMIN;

/** Applies one signed statement; the state given is never modified. Throws a coded FleetError. */
export function applyGroupStatement(state: GroupState | undefined, bytes: Uint8Array, keys: GroupKeys): GroupState {
  const opened = openGroupStatement(bytes, keys);
  return applyOpened(state, opened, keys);
}

/** Folds a whole chain, first statement first. */
export function foldGroup(statements: Iterable<Uint8Array>, keys: GroupKeys): GroupState {
  let state: GroupState | undefined;
  for (const s of statements) state = applyGroupStatement(state, s, keys);
  if (!state) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "a group chain starts with its create statement");
  return state;
}

function applyOpened(state: GroupState | undefined, o: OpenedStatement, keys: GroupKeys): GroupState {
  const s = o.statement;
  const signer = s.signer;
  const head = statementHash(o.statementBytes);
  if (!state) {
    if (s.action.case !== "create") throw refuse(`group ${s.group} does not exist (its chain starts with a create)`, "/action");
    if (s.seq !== 1n || s.prev.length !== 0) throw new FleetError(ErrorCode.SECURITY_REPLAY, "a create is seq 1 with no prev", { pointer: "/seq" });
    return {
      group: s.group,
      seq: 1n,
      head,
      at: o.at,
      owner: signer,
      policy: policyOf(s.action.value.policy, "/create/policy/send"),
      members: new Map([[signer, { role: GroupRole.OWNER, muted: false }]]),
      pending: new Set(),
      inviteUses: new Map(),
    };
  }
  if (s.group !== state.group) throw refuse(`statement is about ${s.group}, not ${state.group}`, "/group");
  if (s.seq !== state.seq + 1n || !constantTimeEqual(s.prev, state.head)) {
    throw new FleetError(ErrorCode.SECURITY_REPLAY, `statement does not follow ${state.group}'s head (seq ${s.seq}, head is ${state.seq})`, { pointer: s.seq !== state.seq + 1n ? "/seq" : "/prev" });
  }
  if (o.at < state.at) throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, "statement is dated before the previous one", { pointer: "/at" });

  const members = new Map(state.members);
  const pending = new Set(state.pending);
  let inviteUses = state.inviteUses as Map<string, number>;
  let owner = state.owner;
  let policy = state.policy;
  const me = members.get(signer);
  const needAdmin = () => {
    if (!isAdmin(me)) throw refuse(`${signer} is not an admin of ${state.group}`, "/signer");
  };
  const needOwner = () => {
    if (signer !== owner) throw refuse(`${signer} is not the owner of ${state.group}`, "/signer");
  };
  const roomFor = () => {
    if (members.size + pending.size >= MAX_GROUP_MEMBERS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${state.group} has ${MAX_GROUP_MEMBERS} members and pending agents`);
  };
  /** A target an admin may act on: never the owner; another admin only when the signer is the owner. */
  const actOn = (agent: string, pointer: string) => {
    if (agent === owner) throw refuse("the owner cannot be kicked or muted", pointer);
    if (isAdmin(members.get(agent)) && signer !== owner) throw refuse(`only the owner acts on admin ${agent}`, pointer);
  };

  const a = s.action;
  switch (a.case) {
    case "create":
      throw new FleetError(ErrorCode.SECURITY_REPLAY, `${state.group} already exists`, { pointer: "/create" });
    case "join": {
      if (members.has(signer) || pending.has(signer)) throw refuse(`${signer} is already in ${state.group}`, "/signer");
      inviteUses = new Map(state.inviteUses);
      const claims = checkInvite(a.value.invite, state.group, signer, o.keyId, o.at, keys, inviteUses);
      if (!isAdmin(members.get(claims.issuer))) throw refuse(`invite issuer ${claims.issuer} is not an admin of ${state.group}`, "/join/invite");
      if (inviteUses.size > MAX_COUNTED_INVITES) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${state.group} counts ${MAX_COUNTED_INVITES} limited invites`);
      roomFor();
      if (policy.joinApproval) pending.add(signer);
      else members.set(signer, { role: GroupRole.MEMBER, muted: false });
      break;
    }
    case "approve": {
      needAdmin();
      const agent = a.value.agent;
      if (members.has(agent)) throw refuse(`${agent} is already a member`, "/approve/agent");
      if (!pending.delete(agent)) roomFor();
      members.set(agent, { role: GroupRole.MEMBER, muted: false });
      break;
    }
    case "leave":
      if (signer === owner) throw refuse("the owner transfers ownership before leaving", "/leave");
      if (!members.delete(signer) && !pending.delete(signer)) throw refuse(`${signer} is not in ${state.group}`, "/signer");
      break;
    case "kick": {
      needAdmin();
      const agent = a.value.agent;
      actOn(agent, "/kick/agent");
      if (!members.delete(agent) && !pending.delete(agent)) throw refuse(`${agent} is not in ${state.group}`, "/kick/agent");
      break;
    }
    case "mute": {
      needAdmin();
      const agent = a.value.agent;
      actOn(agent, "/mute/agent");
      const m = members.get(agent);
      if (!m) throw refuse(`${agent} is not a member of ${state.group}`, "/mute/agent");
      members.set(agent, { ...m, muted: a.value.muted });
      break;
    }
    case "setRole": {
      needOwner();
      const { agent, role } = a.value;
      if (role !== GroupRole.MEMBER && role !== GroupRole.ADMIN) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "set_role makes a member or an admin", { pointer: "/setRole/role" });
      const m = members.get(agent);
      if (!m || agent === owner) throw refuse(`${agent} is not a member whose role can change`, "/setRole/agent");
      members.set(agent, { ...m, role });
      break;
    }
    case "transfer": {
      needOwner();
      const agent = a.value.agent;
      const m = members.get(agent);
      if (!m || agent === owner) throw refuse(`${agent} is not a member to transfer to`, "/transfer/agent");
      members.set(agent, { role: GroupRole.OWNER, muted: false });
      members.set(owner, { role: GroupRole.ADMIN, muted: false });
      owner = agent;
      break;
    }
    case "setPolicy":
      needAdmin();
      policy = policyOf(a.value.policy, "/setPolicy/policy/send");
      break;
    default:
      throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "a statement needs an action", { pointer: "/action" });
  }
  return { group: state.group, seq: s.seq, head, at: o.at, owner, policy, members, pending, inviteUses };
}

export function isMember(state: GroupState, agent: string): boolean {
  return state.members.has(agent);
}

/** Whether agent may send group:<name> traffic now: a member, not muted, and an admin in an announce channel. */
export function maySend(state: GroupState, agent: string): boolean {
  const m = state.members.get(agent);
  if (!m || m.muted) return false;
  return state.policy.send === GroupSendPolicy.MEMBERS || m.role >= GroupRole.ADMIN;
}

/** Throws 603 unless agent may send to the group (the refusal the hub and recipients give). */
export function checkSend(state: GroupState, agent: string): void {
  if (!maySend(state, agent)) {
    const m = state.members.get(agent);
    const why = !m ? "is not a member of" : m.muted ? "is muted in" : "may not send to the announce channel";
    throw refuse(`${agent} ${why} ${state.group}`, "/recipient/group");
  }
}

