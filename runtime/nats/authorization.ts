// The nats-server authorization block of a fleet (spec/nats-auth.md): one nkey user per agent
// (its Ed25519 identity key, nkey.ts), with publish and subscribe permissions derived from the
// one subject table (subjects.ts) and from the groups' signed chains, plus admin users with
// every permission (the operator: `fleet nats auth` provisions streams and consumers with it).
// Pure: who exists, with which key, and the folded group states go in; the text of a config
// include file comes out. Where the agents and chains come from is the caller's choice.
import { type GroupState, foldGroup, isMember, KeyHistory, maySend } from "../protocol/groups/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { fromBase64Url } from "../crypto/bytes.js";
import { keyIdFor } from "../crypto/keyid.js";
import { userNkey } from "./nkey.js";
import type { GrantedSubscriptions } from "./grants.js";
import { CHANNEL_SUBJECTS, type ChannelId, durableName, replyPrefix, STREAMS, subjects, subjectToken } from "./subjects.js";

/**
 * Who may use a channel: anyone in the fleet, only the agent the subject names ("own"), only
 * the group's members ("member": subscribe) or senders by its policy ("sender": publish).
 */
type Rule = "any" | "own" | "member" | "sender";

/**
 * The rule of every channel, both ways. Typed by ChannelId: a new channel in subjects.ts does
 * not compile until it is given its rules here (and in spec/nats-auth.md's table).
 */
export const CHANNEL_RULES: { readonly [K in ChannelId]: { readonly publish: Rule; readonly subscribe: Rule } } = {
  agentInbox: { publish: "any", subscribe: "own" },
  agentReceipts: { publish: "any", subscribe: "own" },
  broadcast: { publish: "any", subscribe: "any" },
  group: { publish: "sender", subscribe: "member" },
  capability: { publish: "any", subscribe: "any" },
  presence: { publish: "own", subscribe: "any" },
  discovery: { publish: "any", subscribe: "any" },
  registrySync: { publish: "any", subscribe: "any" },
  registryQuery: { publish: "any", subscribe: "any" },
  bottles: { publish: "any", subscribe: "own" },
  // A session id is made in the handshake and names neither agent: it cannot be tied to one.
  session: { publish: "any", subscribe: "any" },
  keys: { publish: "own", subscribe: "any" },
  // Chains are public (every recipient folds them) and anyone may append (a joiner is no member
  // yet): the fold, not the server, decides what a statement does; what does not fold is skipped.
  groupChain: { publish: "any", subscribe: "any" },
};

/**
 * Streams every agent may read from the start (an ordered consumer of its own, or one stored
 * message by subject): public records, key rotations and group chains.
 */
export const PUBLIC_STREAMS: readonly string[] = [STREAMS.keys.name, STREAMS.groups.name];

/** Most users one authorization holds (documented bound; one more is 804). */
export const MAX_AUTH_USERS = 10_000;

export interface AuthAgent {
  agent: string;
  /** The agent's current Ed25519 public key (its nkey). */
  publicKey: Uint8Array;
}

export interface Permissions {
  publish: { allow: string[] };
  /**
   * deny: the subjects of granted capabilities this agent holds no grant for (spec/capabilities.md
   * "On NATS"); nats-server also withholds them from a wildcard subscription.
   */
  subscribe: { allow: string[]; deny?: string[] };
  /** May answer a request it received (once, to its reply subject): registry queries. */
  allow_responses: boolean;
}

export interface NatsUser {
  /** Who the user is, for people reading the file (nats-server ignores nothing it does not know: it is a comment). */
  agent: string;
  nkey: string;
  /** Absent for admins: every subject both ways. */
  permissions?: Permissions;
}

export interface AuthorizationInput {
  agents: AuthAgent[];
  /** Users with every permission (the operator's identity). */
  admins?: AuthAgent[];
  /** Folded group states (foldChains): membership and who may send. */
  groups?: GroupState[];
  /** Granted capabilities and their holders (grants.ts grantHolders); default: every capability open. */
  capabilities?: GrantedSubscriptions;
  maxUsers?: number;
}

/** One subject pattern of a channel: `{param}` becomes the token given, or `*`. */
function pattern(channel: ChannelId, first?: string): string {
  let used = false;
  return CHANNEL_SUBJECTS[channel].replace(/\{[A-Za-z]+\}/g, () => {
    if (!used && first !== undefined) {
      used = true;
      return first;
    }
    return "*";
  });
}

function allowed(channel: ChannelId, rule: Rule, agent: string, groups: GroupState[]): string[] {
  switch (rule) {
    case "any":
      return [pattern(channel)];
    case "own":
      return [pattern(channel, subjectToken(agent))];
    case "member":
      return groups.filter((g) => isMember(g, agent)).map((g) => pattern(channel, subjectToken(g.group, "/group")));
    case "sender":
      return groups.filter((g) => maySend(g, agent)).map((g) => pattern(channel, subjectToken(g.group, "/group")));
  }
}

/** The JetStream API an agent needs: its own durable consumers (made by the admin) and the public streams. */
async function jetstreamSubjects(agent: string): Promise<string[]> {
  const out = ["$JS.API.INFO"];
  for (const stream of PUBLIC_STREAMS) {
    out.push(
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
      `$JS.API.CONSUMER.DELETE.${stream}.>`,
    );
  }
  for (const [kind, stream] of [
    ["inbox", STREAMS.inbox.name],
    ["bottles", STREAMS.bottles.name],
  ] as const) {
    const durable = await durableName(kind, agent);
    out.push(`$JS.API.CONSUMER.INFO.${stream}.${durable}`, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, `$JS.ACK.${stream}.${durable}.>`);
  }
  return out;
}

/** What one agent may publish and subscribe to, given the groups' states and the holders of granted capabilities. */
export async function agentPermissions(agent: string, groups: GroupState[] = [], capabilities?: GrantedSubscriptions): Promise<Permissions> {
  const publish: string[] = [];
  const subscribe: string[] = [`${await replyPrefix(agent)}.>`];
  for (const [channel, rule] of Object.entries(CHANNEL_RULES) as [ChannelId, (typeof CHANNEL_RULES)[ChannelId]][]) {
    publish.push(...allowed(channel, rule.publish, agent, groups));
    subscribe.push(...allowed(channel, rule.subscribe, agent, groups));
  }
  publish.push(...(await jetstreamSubjects(agent)));
  // Anyone may send capability:<name>; only a grant's holders may receive a granted one.
  const deny = (capabilities?.granted ?? []).filter((c) => !capabilities!.holders.get(c)?.has(agent)).map((c) => subjects.capability(c));
  return { publish: { allow: publish }, subscribe: deny.length ? { allow: subscribe, deny } : { allow: subscribe }, allow_responses: true };
}

/** Every user of the fleet; 607 when two users share a key, 804 past maxUsers. */
export async function buildAuthorization(input: AuthorizationInput): Promise<NatsUser[]> {
  const max = input.maxUsers ?? MAX_AUTH_USERS;
  const total = input.agents.length + (input.admins?.length ?? 0);
  if (total > max) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${total} users is more than one authorization holds (${max})`);
  const seen = new Map<string, string>();
  const users: NatsUser[] = [];
  const add = (a: AuthAgent, permissions?: Permissions) => {
    const nkey = userNkey(a.publicKey);
    const other = seen.get(nkey);
    if (other !== undefined) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${a.agent} and ${other} have the same key ${keyIdFor(a.publicKey)}`);
    seen.set(nkey, a.agent);
    users.push(permissions ? { agent: a.agent, nkey, permissions } : { agent: a.agent, nkey });
  };
  for (const a of input.admins ?? []) add(a);
  const groups = input.groups ?? [];
  for (const a of [...input.agents].sort((x, y) => (x.agent < y.agent ? -1 : x.agent > y.agent ? 1 : 0))) add(a, await agentPermissions(a.agent, groups, input.capabilities));
  return users;
}

/**
 * The text of a nats-server config include: `include "fleet-auth.conf"` in the server's
 * config. Each user is one JSON object (nats-server's config format takes JSON), preceded by
 * a comment naming its agent.
 */
export function renderAuthorization(users: NatsUser[]): string {
  const lines = ["# Written by `fleet nats auth` (spec/nats-auth.md): regenerate it, do not edit it.", "authorization {", "  users = ["];
  for (const u of users) {
    lines.push(`    # ${JSON.stringify(u.agent)}${u.permissions ? "" : " (admin)"}`);
    lines.push(`    ${JSON.stringify(u.permissions ? { nkey: u.nkey, permissions: u.permissions } : { nkey: u.nkey })}`);
  }
  lines.push("  ]", "}", "");
  return lines.join("\n");
}

/** A group's chain as the hub's `group.chain` op answers it: base64url statements, first first. */
export interface GroupChain {
  group: string;
  statements: string[] | Uint8Array[];
}

/** Folds each chain with the agents' keys; a chain that does not fold is refused with its group named (its code kept). */
export function foldChains(chains: GroupChain[], agents: AuthAgent[]): GroupState[] {
  const keys = new KeyHistory();
  for (const a of agents) keys.add(a.agent, a.publicKey);
  return chains.map((c) => {
    try {
      const bytes = c.statements.map((s) => (typeof s === "string" ? fromBase64Url(s, ErrorCode.SECURITY_SIGNATURE_INVALID) : s));
      const state = foldGroup(bytes, keys);
      if (state.group !== c.group) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `the chain given as ${c.group} is group ${state.group}`);
      return state;
    } catch (e) {
      const err = asFleetError(e, ErrorCode.WIRE_MALFORMED, "group chain");
      throw new FleetError(err.code, `group ${c.group}: ${err.message}`, { cause: e });
    }
  });
}
