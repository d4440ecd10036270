// The one mapping from Fleet Protocol channels to NATS subjects and JetStream streams.
// spec/asyncapi/fleet.asyncapi.yaml is the source of truth; tests/nats/subjects.test.ts
// checks this table against every channel address in it, both ways.
import { ErrorCode, FleetError } from "../errors.js";

/** Channel id -> subject template; `{name}` is one escaped subject token. */
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
} as const;

export type ChannelId = keyof typeof CHANNEL_SUBJECTS;

/** JetStream streams: everything that must survive a restart or an offline recipient. */
export const STREAMS = {
  inbox: { name: "FLEET_INBOX", subjects: ["fleet.v1.agent.*.inbox"] },
  bottles: { name: "FLEET_BOTTLES", subjects: ["fleet.v1.bottle.*"] },
} as const;

/**
 * Session traffic: SessionEnvelopes between two agents after their pairwise handshake, one
 * subject per session and direction. It is live and must never land in FLEET_INBOX (a stored
 * SessionEnvelope is useless once either side's session keys are gone), so it cannot use the
 * inbox subject. Not (yet) an AsyncAPI channel, hence kept out of CHANNEL_SUBJECTS.
 */
export const SESSION_SUBJECT = "fleet.v1.session.{session}.{direction}";

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
  return value === undefined ? template : template.replace(/\{[a-z]+\}/, subjectToken(value));
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
    SESSION_SUBJECT.replace("{session}", subjectToken(sessionId, "/sessionId")).replace("{direction}", from === "initiator" ? "i2r" : "r2i"),
};

/** Which channel a concrete subject belongs to, and its parameter (unescaped), if any. */
export function parseSubject(subject: string): { channel: ChannelId; param?: string } | undefined {
  const tokens = subject.split(".");
  for (const [channel, template] of Object.entries(CHANNEL_SUBJECTS) as [ChannelId, string][]) {
    const parts = template.split(".");
    if (parts.length !== tokens.length) continue;
    let param: string | undefined;
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      if (parts[i].startsWith("{")) param = tokenToName(tokens[i]);
      else ok = parts[i] === tokens[i];
    }
    if (ok) return param === undefined ? { channel } : { channel, param };
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
