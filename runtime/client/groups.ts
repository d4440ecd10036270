// An agent's side of groups (spec/groups.md): appending statements to a chain and fetching one
// (GroupChainStore: the hub's group ops, or the NATS binding's FLEET_GROUPS), folding it locally, and the recipient's check: a group:<name> message is taken
// only from a sender the locally folded chain allows, so a hub (or a NATS peer) that lies about
// membership cannot speak in the group.
import { create } from "@bufbuild/protobuf";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { fromBase64Url, toBase64Url } from "../crypto/bytes.js";
import { ErrorCode, FleetError } from "../errors.js";
import { applyGroupStatement, checkSend, type GroupKeys, type GroupState, type GroupStateJson } from "../protocol/groups/index.js";
import { applicationValue } from "./draft.js";
import type { FleetConnection, MessageHandler, MessageMeta } from "./connection.js";

/** Same value as hub/hub-requests.ts HUB_OP_MEDIA_TYPE (client/ does not import hub/). */
const HUB_OP = "application/vnd.fleet.hub-op+json";

async function hubOp(conn: FleetConnection, json: Record<string, unknown>): Promise<any> {
  const answer = await conn.request({
    to: "fleet:hub",
    type: MessageType.QUERY,
    sign: false,
    body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP, content: { case: "json", value: JSON.stringify(json) } }) },
  });
  return applicationValue(answer);
}

/**
 * Where a binding keeps group chains, the one surface both bindings give: the hub's chain
 * (group.append / group.chain ops) or, on NATS, FLEET_GROUPS (NatsFleetConnection).
 */
export interface GroupChainStore {
  /** Appends one signed statement; resolves with the JSON view of the state it makes (its coded error otherwise). */
  appendGroupStatement(statement: Uint8Array): Promise<GroupStateJson>;
  /** The group's statements in order (fold them with foldGroup / GroupView); 404 (REGISTRY_AGENT_NOT_FOUND) when it has no chain. */
  groupChain(group: string): Promise<Uint8Array[]>;
  /**
   * The chain folded by the binding itself with the keys it holds (NATS: its pins and FLEET_KEYS'
   * rotations, where no hub's registry lists every signer); undefined when the group has no chain.
   * Absent on the hub, where the caller folds groupChain with the registry's keys.
   */
  foldGroupChain?(group: string): Promise<GroupState | undefined>;
}

/** The hub's chains, through its group ops. */
export function hubGroupChains(conn: FleetConnection): GroupChainStore {
  return {
    appendGroupStatement: (statement) => hubOp(conn, { op: "group.append", statement: toBase64Url(statement) }),
    async groupChain(group) {
      const answer = await hubOp(conn, { op: "group.chain", group });
      if (!Array.isArray(answer?.statements)) throw new FleetError(ErrorCode.WIRE_MALFORMED, "group.chain answer has no statements");
      return answer.statements.map((s: string) => fromBase64Url(s, ErrorCode.SECURITY_SIGNATURE_INVALID));
    },
  };
}

/** The connection's own chain store when it has one (NATS), else the hub's. */
export function groupChainsOf(conn: FleetConnection): GroupChainStore {
  const own = conn as Partial<GroupChainStore>;
  return typeof own.appendGroupStatement === "function" && typeof own.groupChain === "function" ? (conn as FleetConnection & GroupChainStore) : hubGroupChains(conn);
}

/** Appends one signed statement to the connection's chain store; resolves with the JSON view of the state. */
export function appendStatement(conn: FleetConnection, statement: Uint8Array): Promise<any> {
  return groupChainsOf(conn).appendGroupStatement(statement);
}

/** The group's chain as the connection's store holds it (fold it with foldGroup / GroupView). */
export function fetchChain(conn: FleetConnection, group: string): Promise<Uint8Array[]> {
  return groupChainsOf(conn).groupChain(group);
}

/** A recipient's own fold of the groups it follows. */
export class GroupView {
  private readonly states = new Map<string, GroupState>();
  constructor(private readonly keys: GroupKeys, private readonly maxGroups = 1024) {}

  state(group: string): GroupState | undefined {
    return this.states.get(group);
  }

  /** Applies statements after the ones already folded (a statement already applied is skipped by seq). */
  apply(group: string, statements: Uint8Array[]): GroupState {
    let state = this.states.get(group);
    if (!state && this.states.size >= this.maxGroups) throw new FleetError(ErrorCode.DELIVERY_BUSY, `following ${this.maxGroups} groups`);
    const skip = state ? Number(state.seq) : 0;
    for (const s of statements.slice(skip)) state = applyGroupStatement(state, s, this.keys);
    if (!state || state.group !== group) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `the chain is not ${group}'s`);
    this.states.set(group, state);
    return state;
  }

  /** Throws 603 unless env, addressed to group:<name>, comes from a sender the chain allows. Other messages pass. */
  check(env: Envelope): void {
    const to = env.recipient?.target;
    if (to?.case !== "group") return;
    const state = this.states.get(to.value);
    if (!state) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `no verified chain for group ${to.value}`, { pointer: "/recipient/group" });
    checkSend(state, env.sender);
  }

  /** Wraps a handler: group messages the chain does not allow go to refused instead. */
  guard(handler: MessageHandler, refused: (env: Envelope, e: FleetError) => void = () => {}): MessageHandler {
    return (env: Envelope, meta: MessageMeta) => {
      try {
        this.check(env);
      } catch (e) {
        if (e instanceof FleetError) return refused(env, e);
        throw e;
      }
      handler(env, meta);
    };
  }
}
