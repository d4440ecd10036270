// The recipient's own membership check, on by default for hub clients (spec/groups.md "What
// recipients check"): before a group:<name> message reaches the application, the connection
// folds the group's chain of signed statements itself and refuses (603, reported through
// onDrop, never handed over) a sender the fold does not allow, so a hub that lies about
// membership cannot make a non-member's message reach the application.
//
// Current, bounded: the chain is fetched when a group is first seen, and again when a sender
// the fold refuses may have joined since (at most once per refreshMs per group); only the
// statements after the folded head are applied. Signers' keys come from the connection's pins,
// else from the hub's registry (pinned on first use, as for a message's sender). Groups the hub
// has no chain for (announced membership, spec/hub.md) pass unless `strict`; a group once seen
// with a chain is always checked, so a hub cannot later pretend it has none.
import { fromBinary } from "@bufbuild/protobuf";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { GroupStatementSchema, SignedGroupStatementSchema } from "../../generated/proto/fleet/v1/group_pb.js";
import { TokenClaimsSchema, TokenSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import type { Clock } from "../clock.js";
import { fromBase64Url } from "../crypto/bytes.js";
import { keyIdFor } from "../crypto/keyid.js";
import { TOKEN_PREFIX } from "../crypto/token.js";
import { ErrorCode, FleetError } from "../errors.js";
import { MAX_GROUP_KEYS, maySend, type GroupKey, type GroupKeys } from "../protocol/groups/index.js";
import type { FleetConnection } from "./connection.js";
import { fetchChain, GroupView } from "./groups.js";

/** (group, sender) pairs whose last refresh is remembered (at the bound the memory is emptied). */
export const MAX_REFRESH_KEYS = 4096;

export interface GroupCheckOptions {
  /** Refuse group messages of groups the hub has no chain for, too (default false: they pass). */
  strict?: boolean;
  /** A group's chain is fetched again for the same refused sender at most this often (default 1,000 ms). */
  refreshMs?: number;
  /** Groups followed at once (default 1,024; a message for one more is refused with 804). */
  maxGroups?: number;
  /** (group, sender) pairs whose last refresh is remembered (default MAX_REFRESH_KEYS). */
  maxRefreshKeys?: number;
}

/** What the check needs from the connection: the hub's chain and an agent's key. */
export type GroupCheckConnection = FleetConnection & { keysOf(agents: Iterable<string>): Promise<Map<string, Uint8Array>> };

/** The names a statement's verification needs keys for: its signer and, for a join, its invite's issuer (read unverified). */
function namesIn(bytes: Uint8Array): string[] {
  try {
    const statement = fromBinary(GroupStatementSchema, fromBinary(SignedGroupStatementSchema, bytes).statement);
    const names = [statement.signer];
    if (statement.action.case === "join" && statement.action.value.invite.startsWith(TOKEN_PREFIX)) {
      const token = fromBinary(TokenSchema, fromBase64Url(statement.action.value.invite.slice(TOKEN_PREFIX.length), ErrorCode.SECURITY_SIGNATURE_INVALID));
      names.push(fromBinary(TokenClaimsSchema, token.claims).issuer);
    }
    return names;
  } catch {
    return []; // the fold refuses it with its code
  }
}

export class GroupCheck {
  private readonly keys = new Map<string, GroupKey>();
  private readonly known = new Set<string>();
  private readonly view: GroupView;
  /** Groups seen with a chain (checked from then on) and when each was last fetched. */
  private readonly chained = new Set<string>();
  /** Groups fetched at least once (bounded by maxGroups). */
  private readonly fetchedAt = new Map<string, number>();
  /** When a chain was last fetched because of each (group, sender) pair (bounded: MAX_REFRESH_KEYS, then emptied). */
  private readonly askedFor = new Map<string, number>();
  private readonly refreshMs: number;
  private readonly maxGroups: number;

  constructor(private readonly clock: Clock, private readonly o: GroupCheckOptions = {}) {
    const lookups: GroupKeys = { lookup: (keyId) => this.keys.get(keyId) };
    this.maxGroups = o.maxGroups ?? 1024;
    this.view = new GroupView(lookups, this.maxGroups);
    this.refreshMs = o.refreshMs ?? 1_000;
  }

  /** Resolves when env may reach the application; throws a coded FleetError (603, 804) when it may not. */
  async check(conn: GroupCheckConnection, env: Envelope): Promise<void> {
    const to = env.recipient?.target;
    if (to?.case !== "group") return;
    const group = to.value;
    const state = this.view.state(group);
    if (state && maySend(state, env.sender)) return;
    // Fetched again for a sender the fold refuses (it may have joined since), at most once per
    // refreshMs per sender and group, so a stream of refused messages costs one fetch a second;
    // a group the hub had no chain for is asked again at most once per refreshMs, whoever sends.
    const now = this.clock.now();
    const key = `${group}\u0000${env.sender}`;
    const last = this.askedFor.get(key);
    const unchainedRecently = !this.chained.has(group) && now - (this.fetchedAt.get(group) ?? -Infinity) < this.refreshMs;
    if (!unchainedRecently && (last === undefined || now - last >= this.refreshMs)) {
      if (this.askedFor.size >= (this.o.maxRefreshKeys ?? MAX_REFRESH_KEYS)) this.askedFor.clear();
      this.askedFor.set(key, now);
      await this.refresh(conn, group);
    }
    if (!this.chained.has(group)) {
      if (this.o.strict) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `no verified chain for group ${group}`, { pointer: "/recipient/group" });
      return;
    }
    // GroupView.check: 603 unless the fold allows the sender.
    this.view.check(env);
  }

  private async refresh(conn: GroupCheckConnection, group: string): Promise<void> {
    if (!this.fetchedAt.has(group) && this.fetchedAt.size >= this.maxGroups) throw new FleetError(ErrorCode.DELIVERY_BUSY, `following ${this.maxGroups} groups`, { pointer: "/recipient/group" });
    this.fetchedAt.set(group, this.clock.now());
    let chain: Uint8Array[];
    try {
      chain = await fetchChain(conn, group);
    } catch {
      // No chain on the hub (503), or no answer (a peer that keeps no chains: 402, a timeout):
      // announced membership, unless this group was seen with a chain, whose last verified
      // fold then decides.
      return;
    }
    if (!chain.length) return;
    this.chained.add(group);
    const from = Number(this.view.state(group)?.seq ?? 0n);
    const names = new Set(chain.slice(from).flatMap(namesIn).filter((n) => n && !this.known.has(n)));
    if (names.size) await this.learn(conn, names);
    try {
      this.view.apply(group, chain);
    } catch {
      // A chain that does not fold leaves the last verified state (or none: nothing passes).
    }
  }

  /** Signers' keys, from the connection (its pins, else the registry's, pinned on first use); bounded by MAX_GROUP_KEYS. */
  private async learn(conn: GroupCheckConnection, agents: Set<string>): Promise<void> {
    for (const [agent, publicKey] of await conn.keysOf(agents)) {
      if (this.keys.size >= MAX_GROUP_KEYS) return;
      this.known.add(agent);
      this.keys.set(keyIdFor(publicKey), { agent, publicKey, from: 0 });
    }
  }
}
