// The one mapping from Fleet Protocol channels to NATS subjects and JetStream streams.
// spec/asyncapi/fleet.asyncapi.yaml is the source of truth; tests/nats/asyncapi.test.ts
// checks this table, the parameter values and every `subjects` function against it, both ways.
import { ErrorCode, FleetError } from "../errors.js";

/** Channel id -> subject template (the document's channel address); `{name}` is one subject token. */
export const CHANNEL_SUBJECTS = {
  agentInbox: "fleet.v1.agent.{agent}.inbox",
  agentReceipts: "fleet.v1.agent.{agent}.receipts",
  broadcast: "fleet.v1.broadcast",
  group: "fleet.v1.group.{group}",
  capability: "fleet.v1.capability.{capability}",
  presence: "fleet.v1.presence.{agent}",
  discovery: "fleet.v1.discovery",
  registrySync: "fleet.v1.registry.sync",
  registryQuery: "fleet.v1.registry.query",
  bottles: "fleet.v1.bottle.{agent}",
  session: "fleet.v1.session.{sessionId}.{direction}",
  keys: "fleet.v1.keys.{agent}",
  groupChain: "fleet.v1.groupchain.{group}",
} as const;

export type ChannelId = keyof typeof CHANNEL_SUBJECTS;

/** JetStream streams: everything that must survive a restart or an offline recipient. */
export const STREAMS = {
  inbox: { name: "FLEET_INBOX", subjects: ["fleet.v1.agent.*.inbox"] },
  bottles: { name: "FLEET_BOTTLES", subjects: ["fleet.v1.bottle.*"] },
  /** Every agent's KeyRotation history (rotation.ts): kept without age limit so offline agents learn it. */
  keys: { name: "FLEET_KEYS", subjects: ["fleet.v1.keys.*"] },
  /** Every group's chain of SignedGroupStatements (groups.ts, spec/groups.md "On NATS"): kept without age limit. */
  groups: { name: "FLEET_GROUPS", subjects: ["fleet.v1.groupchain.*"] },
} as const;

/**
 * Session traffic: SessionEnvelopes between two agents after their pairwise handshake, one
 * subject per session and direction. It is live and must never land in FLEET_INBOX (a stored
 * SessionEnvelope is useless once either side's session keys are gone), so it cannot use the
 * inbox subject, and no stream covers it.
 */
export const SESSION_SUBJECT = CHANNEL_SUBJECTS.session;

/** The `{direction}` token of a session subject: who publishes on it. */
export const SESSION_DIRECTION = { initiator: "i2r", responder: "r2i" } as const;

/** Parameters with a fixed set of tokens (the document's `enum`), taken literally; all others are escaped names. */
export const PARAMETER_VALUES: Readonly<Record<string, readonly string[]>> = {
  direction: Object.values(SESSION_DIRECTION),
};

const MAX_NAME_CHARS = 128;
// NATS splits subjects on '.', treats '*' and '>' as wildcards and whitespace as a
// protocol separator; '%' is escaped too so the encoding stays reversible.
const UNSAFE = /[.*>%\s\u0000-\u001f\u007f]/gu;

/**
 * Escapes a name (agent, group, capability) into one subject token: unsafe characters
 * become %XX per UTF-8 byte, so "ops.eu" -> "ops%2Eeu" and distinct names never collide.
 * Empty names or names over 128 characters are rejected (709).
 */
export function subjectToken(name: string, pointer = "/recipient"): string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_CHARS) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `name must be 1..${MAX_NAME_CHARS} characters`, { pointer });
  }
  return name.replace(UNSAFE, (ch) =>
    Array.from(new TextEncoder().encode(ch), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/** The inverse of subjectToken. */
export function tokenToName(token: string): string {
  try {
    return decodeURIComponent(token);
  } catch (e) {
    throw new FleetError(ErrorCode.WIRE_MALFORMED, `bad subject token ${JSON.stringify(token)}`, { cause: e });
  }
}

function fill(template: string, value?: string): string {
  return value === undefined ? template : template.replace(/\{[A-Za-z]+\}/, subjectToken(value));
}

export const subjects = {
  agentInbox: (agent: string) => fill(CHANNEL_SUBJECTS.agentInbox, agent),
  agentReceipts: (agent: string) => fill(CHANNEL_SUBJECTS.agentReceipts, agent),
  broadcast: () => CHANNEL_SUBJECTS.broadcast,
  group: (group: string) => fill(CHANNEL_SUBJECTS.group, group),
  capability: (capability: string) => fill(CHANNEL_SUBJECTS.capability, capability),
  presence: (agent: string) => fill(CHANNEL_SUBJECTS.presence, agent),
  /** Every agent's presence, for monitors. */
  presenceAll: () => CHANNEL_SUBJECTS.presence.replace("{agent}", "*"),
  discovery: () => CHANNEL_SUBJECTS.discovery,
  registrySync: () => CHANNEL_SUBJECTS.registrySync,
  registryQuery: () => CHANNEL_SUBJECTS.registryQuery,
  bottle: (agent: string) => fill(CHANNEL_SUBJECTS.bottles, agent),
  /** Where the side that is `from` sends its SessionEnvelopes in a session. */
  session: (sessionId: string, from: "initiator" | "responder") =>
    CHANNEL_SUBJECTS.session.replace("{sessionId}", subjectToken(sessionId, "/sessionId")).replace("{direction}", SESSION_DIRECTION[from]),
  /** Where an agent's KeyRotations are stored (stream FLEET_KEYS). */
  keys: (agent: string) => fill(CHANNEL_SUBJECTS.keys, agent),
  /** Every agent's rotations, for the history every agent applies. */
  keysAll: () => CHANNEL_SUBJECTS.keys.replace("{agent}", "*"),
  /** Where a group's signed statements are stored, in chain order (stream FLEET_GROUPS). */
  groupChain: (group: string) => fill(CHANNEL_SUBJECTS.groupChain, group),
};

export interface ParsedSubject {
  channel: ChannelId;
  /** The first parameter's value (unescaped), if the channel has parameters. */
  param?: string;
  /** Every parameter by name, only for channels with more than one (the session channel). */
  params?: Record<string, string>;
}

type Part = string | { name: string; allowed?: readonly string[] };

// Templates split once: parseSubject runs for every message received.
const TEMPLATES = (Object.entries(CHANNEL_SUBJECTS) as [ChannelId, string][]).map(([channel, template]) => ({
  channel,
  parts: template.split(".").map((p): Part => (p.startsWith("{") ? { name: p.slice(1, -1), allowed: PARAMETER_VALUES[p.slice(1, -1)] } : p)),
}));

function matches(parts: Part[], tokens: string[]): boolean {
  if (parts.length !== tokens.length) return false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === "string" ? p !== tokens[i] : p.allowed !== undefined && !p.allowed.includes(tokens[i])) return false;
  }
  return true;
}

/** Which channel a concrete subject belongs to, and its parameters, if any. */
export function parseSubject(subject: string): ParsedSubject | undefined {
  const tokens = subject.split(".");
  for (const { channel, parts } of TEMPLATES) {
    if (!matches(parts, tokens)) continue;
    // Only the matching channel's tokens are decoded (a malformed one is WIRE_MALFORMED).
    const params: Record<string, string> = {};
    let first: string | undefined;
    let count = 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (typeof p === "string") continue;
      const value = p.allowed ? tokens[i] : tokenToName(tokens[i]);
      params[p.name] = value;
      first ??= value;
      count++;
    }
    if (count === 0) return { channel };
    return count === 1 ? { channel, param: first } : { channel, param: first, params };
  }
  return undefined;
}

/**
 * A JetStream consumer name for an agent: the escaped token may hold '%' and up to 384
 * characters, so durable names use a short, stable hex digest instead.
 */
export async function durableName(prefix: "inbox" | "bottles", agent: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(agent)));
  const hex = Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
  return `fleet_${prefix}_${hex}`;
}
