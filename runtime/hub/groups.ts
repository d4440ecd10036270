// Group enforcement on the hub (spec/groups.md, spec/hub.md "Groups"): the hub keeps each
// group's chain of signed statements (SQLite, folded again at start), appends a statement only
// when it folds, and routes group:<name> of a group with a chain to its current members only,
// refusing a sender the policy forbids (603, nothing stored). Groups without a chain keep the
// announced membership of the registry (`groups` in agent records).
import { GroupStatementSchema, SignedGroupStatementSchema } from "../../generated/proto/fleet/v1/group_pb.js";
import { parseMessage } from "../codec/index.js";
import { keyIdFor } from "../crypto/keyid.js";
import { ErrorCode, FleetError } from "../errors.js";
import { applyGroupStatement, checkSend, GROUP_STATEMENT_SKEW_MS, MAX_CHAINED_GROUPS, MAX_GROUP_STATEMENTS, openGroupStatement, type GroupKey, type GroupKeys, type GroupState } from "../protocol/groups/index.js";
import type { Hub } from "./hub.js";

/** The signer a stored statement names (read without verifying: the fold verifies it). */
function signerOf(bytes: Uint8Array): string {
  const signed = parseMessage(SignedGroupStatementSchema, bytes);
  return parseMessage(GroupStatementSchema, signed.statement).signer;
}

/** Groups with a chain on one hub (documented bound; a create past it is 804). */
export const MAX_HUB_GROUPS = MAX_CHAINED_GROUPS;
// Statements per group (the next is 804), and how far a statement's `at` may be from the hub's
// clock when appended (605): the same bounds as on NATS (runtime/protocol/groups).
export { GROUP_STATEMENT_SKEW_MS, MAX_GROUP_STATEMENTS };

interface Chain {
  state: GroupState;
  count: number;
}

export class HubGroups {
  private readonly chains = new Map<string, Chain>();

  constructor(private readonly hub: Hub) {
    // Every stored statement was verified, when appended, with a key the hub then held; folding
    // again at start uses those keys (a later rotation must not unmake history). Each key is
    // bound to the signer of the statement stored with it, and applyGroupStatement verifies again.
    const rows = hub.store.groupStatements();
    const stored = new Map<string, GroupKey>();
    for (const r of rows) stored.set(keyIdFor(r.publicKey), { agent: signerOf(r.statement), publicKey: r.publicKey, from: 0 });
    const keys: GroupKeys = { lookup: (keyId) => stored.get(keyId) };
    for (const r of rows) {
      const c = this.chains.get(r.grp);
      this.chains.set(r.grp, { state: applyGroupStatement(c?.state, r.statement, keys), count: (c?.count ?? 0) + 1 });
    }
  }

  /** The keys the hub trusts now: its pins (a rotated-out key is no longer one). */
  private liveKeys(): GroupKeys {
    const byKeyId = new Map(this.hub.pins.entries().map((p) => [p.keyId, p]));
    return { lookup: (keyId) => {
      const p = byKeyId.get(keyId);
      return p ? { agent: p.agent, publicKey: p.publicKey, from: 0 } : undefined;
    } };
  }

  state(group: string): GroupState | undefined {
    return this.chains.get(group)?.state;
  }

  groups(): string[] {
    return [...this.chains.keys()];
  }

  /** Verifies, folds and stores one statement; returns the new state. Coded FleetError otherwise. */
  append(bytes: Uint8Array): GroupState {
    const keys = this.liveKeys();
    const opened = openGroupStatement(bytes, keys);
    const now = this.hub.clock.now();
    if (Math.abs(opened.at - now) > GROUP_STATEMENT_SKEW_MS) throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, "a statement is appended within 120 s of its time", { pointer: "/at" });
    const group = opened.statement.group;
    const chain = this.chains.get(group);
    if (!chain && this.chains.size >= MAX_HUB_GROUPS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `this hub holds ${MAX_HUB_GROUPS} groups`);
    if (chain && chain.count >= MAX_GROUP_STATEMENTS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${group} has ${MAX_GROUP_STATEMENTS} statements`);
    const state = applyGroupStatement(chain?.state, bytes, keys);
    this.hub.store.putGroupStatement(group, state.seq, bytes, keys.lookup(opened.keyId)!.publicKey);
    this.chains.set(group, { state, count: (chain?.count ?? 0) + 1 });
    return state;
  }

  /** The chain's statements, in order (what a recipient folds for itself). */
  chain(group: string): Uint8Array[] {
    return this.hub.store.groupStatements().filter((r) => r.grp === group).map((r) => r.statement);
  }

  /**
   * Who a group: message from sender goes to: undefined when the group has no chain (the
   * caller uses announced membership); 603 when the policy forbids the sender.
   */
  recipients(group: string, sender: string): string[] | undefined {
    const state = this.state(group);
    if (!state) return undefined;
    checkSend(state, sender);
    return [...state.members.keys()].filter((a) => a !== sender);
  }
}
