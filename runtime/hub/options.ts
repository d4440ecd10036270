// Hub settings and their defaults. Every limit is configurable (CLI flags map onto these).
import type { Clock } from "../clock.js";
import type { CapabilityPolicy } from "../protocol/capability-grants.js";
import { ADMISSION_SCOPE, tokenAudience, type Identity } from "../crypto/index.js";
import { DEFAULT_TICKET_LIFETIME_MS } from "./tickets.js";

export interface HubOptions {
  /** Directory holding hub.db (inside FLEET_HOME). */
  storeDir: string;
  /** The hub's own identity (signs handshakes and error frames). */
  identity: Identity;
  clock?: Clock;
  /** "all": verify every forwarded signed envelope's Ed25519 signature at the hub too;
   *  "none" (default): check only that its key id is the connection's, and leave the
   *  signature to the recipients, who always verify end to end. */
  verify?: "all" | "none";
  /** Largest frame accepted (default 1 MiB + envelope overhead: 1,114,112 bytes). */
  maxFrameBytes?: number;
  /** Per-sender token bucket: messages per second (default 10,000; 0 disables) and burst (default 20,000). */
  ratePerSecond?: number;
  rateBurst?: number;
  /** Bytes queued to one connection above which it is "busy" (default 8 MiB). */
  maxQueueBytes?: number;
  /** A connection busy this long is disconnected (default 5,000 ms); at 4x maxQueueBytes at once. */
  slowConsumerMs?: number;
  /** Dedupe window for message ids per sender (default 600,000 ms, as agentnet). */
  dedupeWindowMs?: number;
  /** In-memory dedupe entries kept for messages that do not require an ack (default 200,000). */
  dedupeEntries?: number;
  /** A connection silent this long is closed with 809 (default 60,000 ms; clients heartbeat every 5 s). */
  idleTimeoutMs?: number;
  /** The handshake must complete within this (default 10,000 ms), else 101. */
  handshakeTimeoutMs?: number;
  /** Allowed clock skew for created_at (default 120,000 ms). */
  skewMs?: number;
  /**
   * "open" (default): any key may connect (names are pinned on first use). "token": the Hello
   * must carry an admission token issued by this hub's own key for hubAudience(identity),
   * scope "hub:connect", bound to the key the Hello is signed with (holder_key_id), naming
   * the agent as subject when it names one; limited tokens are
   * counted in the store, so a single-use token stays used across restarts.
   */
  admission?: "open" | "token";
  /** Largest frame accepted before the handshake completes (default 16,384 bytes: a Hello is under 1 KB). */
  maxHandshakeFrameBytes?: number;
  /**
   * Connections still handshaking at once (default 1,024); one more is refused with 804 and
   * closed. With maxHandshakeFrameBytes this bounds what unauthenticated peers can make the
   * hub buffer: at most 1,024 x 16 KiB = 16 MiB.
   */
  maxPendingConnections?: number;
  /** Stored (offline inbox) bytes per recipient (default 64 MiB); over it, 804 with a retry hint. */
  inboxBytesPerRecipient?: number;
  /** Stored (offline inbox) bytes in total (default 512 MiB); over it, 804. */
  inboxBytesTotal?: number;
  /**
   * Stored bytes, in total, for names this hub has never admitted (no pinned key), default
   * 1 MiB: such messages are held (the name may connect later) under this small separate quota.
   */
  inboxBytesUnknown?: number;
  /**
   * Idle state is forgotten after this (default 86,400,000 ms, one day): open-admission
   * identities that connected but never sent or received a message, and are offline, lose
   * their pin and registry entry. Rate buckets are forgotten as soon as they are full again.
   */
  pruneIdleMs?: number;
  /** Bottles held at once (QUEUED or DELIVERED), default 10,000, and their bytes, default 64 MiB; over either, 804. */
  maxHeldBottles?: number;
  maxHeldBottleBytes?: number;
  /**
   * Granted capabilities and their authorities (spec/capabilities.md; `fleet hub
   * --capability-policy FILE`). A capability it names is offered only with a grant one of its
   * authorities signed (603 otherwise) and capability:<name> reaches only valid holders; every
   * other capability is open. Default: none granted.
   */
  capabilityPolicy?: CapabilityPolicy;
  /**
   * Lifetime of the resumption tickets the hub issues in its Welcomes (spec/handshake.md
   * "Resumption"), default 86,400,000 ms (one day); 0 issues none. A reconnecting agent
   * presenting one is admitted with HMACs instead of Ed25519 (about a third of the hub's CPU).
   */
  ticketLifetimeMs?: number;
  /** Simulated disk quota for the store (tests). */
  storeMaxBytes?: number;
}

export type ResolvedHubOptions = Required<Omit<HubOptions, "storeMaxBytes">> & { storeMaxBytes?: number };

export const HUB_DEFAULT_PORT = 7420;
export const MAX_HELD_BOTTLES = 10_000;
export const MAX_HELD_BOTTLE_BYTES = 64 * 1024 * 1024;

/** The audience admission tokens for this hub must name: its key id, so a token opens one hub only (spec/tokens.md). */
export function hubAudience(identity: Pick<Identity, "keyId">): string {
  return tokenAudience("hub", identity.keyId);
}

export const HUB_CONNECT_SCOPE = ADMISSION_SCOPE;

export function resolveHubOptions(o: HubOptions, clock: Clock): ResolvedHubOptions {
  return {
    storeDir: o.storeDir,
    identity: o.identity,
    clock,
    verify: o.verify ?? "none",
    admission: o.admission ?? "open",
    maxFrameBytes: o.maxFrameBytes ?? 1_114_112,
    ratePerSecond: o.ratePerSecond ?? 10_000,
    rateBurst: o.rateBurst ?? 20_000,
    maxQueueBytes: o.maxQueueBytes ?? 8 * 1024 * 1024,
    slowConsumerMs: o.slowConsumerMs ?? 5_000,
    dedupeWindowMs: o.dedupeWindowMs ?? 600_000,
    dedupeEntries: o.dedupeEntries ?? 200_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
    skewMs: o.skewMs ?? 120_000,
    maxHandshakeFrameBytes: o.maxHandshakeFrameBytes ?? 16_384,
    maxPendingConnections: o.maxPendingConnections ?? 1_024,
    inboxBytesPerRecipient: o.inboxBytesPerRecipient ?? 64 * 1024 * 1024,
    inboxBytesTotal: o.inboxBytesTotal ?? 512 * 1024 * 1024,
    inboxBytesUnknown: o.inboxBytesUnknown ?? 1024 * 1024,
    pruneIdleMs: o.pruneIdleMs ?? 86_400_000,
    maxHeldBottles: o.maxHeldBottles ?? MAX_HELD_BOTTLES,
    maxHeldBottleBytes: o.maxHeldBottleBytes ?? MAX_HELD_BOTTLE_BYTES,
    capabilityPolicy: o.capabilityPolicy ?? new Map(),
    ticketLifetimeMs: o.ticketLifetimeMs ?? DEFAULT_TICKET_LIFETIME_MS,
    storeMaxBytes: o.storeMaxBytes,
  };
}
