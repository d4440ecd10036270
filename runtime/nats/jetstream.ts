// JetStream for what must be durable: offline inboxes (FLEET_INBOX), bottles
// (FLEET_BOTTLES), key rotations (FLEET_KEYS) and group chains (FLEET_GROUPS). Dedupe by Nats-Msg-Id within duplicate_window, TTL by max_age (2.9 has
// no per-message TTL: receivers also drop envelopes past their own ttl), delivery tracked
// by per-agent durable consumers with explicit acks.
import { AckPolicy, DeliverPolicy, DiscardPolicy, nanos, StorageType, type ConsumerInfo, type JetStreamManager, type StreamConfig } from "nats";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { MAX_GROUP_STATEMENTS, MAX_STATEMENT_BYTES } from "../protocol/groups/index.js";
import { durableName, STREAMS, subjects } from "./subjects.js";

export interface StreamPolicy {
  /** How long an undelivered inbox message is kept (default 7 days). */
  inboxMaxAgeMs?: number;
  /** How long a bottle is kept (default 30 days). */
  bottleMaxAgeMs?: number;
  /** Rotations kept per agent in FLEET_KEYS (default 64; no age limit: an agent offline for months must still learn them). */
  rotationsPerAgent?: number;
  /** Statements kept per group in FLEET_GROUPS (default MAX_GROUP_STATEMENTS, 100,000); the next append is refused, never an old one dropped. */
  statementsPerGroup?: number;
  /** Bytes FLEET_GROUPS holds in all (default 1 GiB); the next append past it is refused. */
  groupStreamBytes?: number;
  /** Window in which a repeated Nats-Msg-Id is dropped (default 10 minutes, as agentnet's dedupe window). */
  duplicateWindowMs?: number;
  /** Redeliveries before a message is given up on (default 20). */
  maxDeliver?: number;
  /** Time a consumer has to ack before redelivery (default 30 s). */
  ackWaitMs?: number;
}

const DAY = 86_400_000;

/** Creates the streams, or updates their limits when they exist (idempotent). */
export async function ensureStreams(jsm: JetStreamManager, policy: StreamPolicy = {}): Promise<void> {
  const dup = policy.duplicateWindowMs ?? 600_000;
  await ensureStream(jsm, { name: STREAMS.inbox.name, subjects: [...STREAMS.inbox.subjects], max_age: nanos(policy.inboxMaxAgeMs ?? 7 * DAY), duplicate_window: nanos(dup) });
  await ensureStream(jsm, { name: STREAMS.bottles.name, subjects: [...STREAMS.bottles.subjects], max_age: nanos(policy.bottleMaxAgeMs ?? 30 * DAY), duplicate_window: nanos(dup) });
  await ensureStream(jsm, { name: STREAMS.keys.name, subjects: [...STREAMS.keys.subjects], max_age: 0, max_msgs_per_subject: policy.rotationsPerAgent ?? 64, duplicate_window: nanos(dup) });
  // A chain must never lose its first statements (every later one folds on them): past the
  // per-group limit the new statement is refused (discard new, per subject), no age limit.
  await ensureStream(jsm, {
    name: STREAMS.groups.name,
    subjects: [...STREAMS.groups.subjects],
    max_age: 0,
    max_msgs_per_subject: policy.statementsPerGroup ?? MAX_GROUP_STATEMENTS,
    max_bytes: policy.groupStreamBytes ?? GROUP_STREAM_BYTES,
    // The statement plus its headers (public key, message id, expected sequence).
    max_msg_size: MAX_STATEMENT_BYTES + STATEMENT_HEADER_BYTES,
    discard: DiscardPolicy.New,
    discard_new_per_subject: true,
    duplicate_window: nanos(dup),
  });
}

/** Room for a stored statement's NATS headers within FLEET_GROUPS' max_msg_size. */
export const STATEMENT_HEADER_BYTES = 1024;
/** Default size of FLEET_GROUPS (1 GiB). */
export const GROUP_STREAM_BYTES = 1 << 30;

async function ensureStream(
  jsm: JetStreamManager,
  cfg: Pick<StreamConfig, "name" | "subjects" | "max_age" | "duplicate_window"> & Partial<Pick<StreamConfig, "max_msgs_per_subject" | "max_bytes" | "max_msg_size" | "discard" | "discard_new_per_subject">>,
): Promise<void> {
  const full: Partial<StreamConfig> = { ...cfg, storage: StorageType.File };
  try {
    await jsm.streams.info(cfg.name);
  } catch (e) {
    if (!isNotFound(e)) throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `stream ${cfg.name}`);
    try {
      await jsm.streams.add(full);
      return;
    } catch (e2) {
      // Another agent created it in the meantime: fall through to update.
      if (!/already in use|exists/i.test(String((e2 as Error).message))) throw asFleetError(e2, ErrorCode.DELIVERY_STORE_FAILED, `stream ${cfg.name}`);
    }
  }
  try {
    await jsm.streams.update(cfg.name, full);
  } catch (e) {
    throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `stream ${cfg.name}`);
  }
}

function isNotFound(e: unknown): boolean {
  const err = e as { code?: string; api_error?: { err_code?: number }; message?: string };
  return err?.api_error?.err_code === 10059 || err?.api_error?.err_code === 10014 || err?.code === "404" || /not found/i.test(err?.message ?? "");
}

export type DurableKind = "inbox" | "bottles";

function streamOf(kind: DurableKind): string {
  return kind === "inbox" ? STREAMS.inbox.name : STREAMS.bottles.name;
}

/** The agent's durable consumer on its inbox or bottle subject; created when missing. */
export async function ensureAgentConsumer(jsm: JetStreamManager, kind: DurableKind, agent: string, policy: StreamPolicy = {}): Promise<string> {
  const name = await durableName(kind, agent);
  const filter = kind === "inbox" ? subjects.agentInbox(agent) : subjects.bottle(agent);
  try {
    await jsm.consumers.info(streamOf(kind), name);
    return name;
  } catch (e) {
    if (!isNotFound(e)) throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `consumer ${name}`);
  }
  try {
    await jsm.consumers.add(streamOf(kind), {
      durable_name: name,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(policy.ackWaitMs ?? 30_000),
      // Bottles wait for their condition by being redelivered: no cap there (max_age bounds them).
      max_deliver: kind === "bottles" ? -1 : (policy.maxDeliver ?? 20),
    });
  } catch (e) {
    throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `consumer ${name}`);
  }
  return name;
}

export interface DeliveryStatus {
  /** Stored, not yet delivered to the agent. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  unacknowledged: number;
  /** Every stream sequence up to this one has been acknowledged by the agent. */
  ackFloor: number;
  /** Highest stream sequence delivered so far. */
  delivered: number;
}

/** What the agent's durable consumer says about its deliveries (the consumer acks are the truth). */
export async function deliveryStatus(jsm: JetStreamManager, kind: DurableKind, agent: string): Promise<DeliveryStatus> {
  const name = await durableName(kind, agent);
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(streamOf(kind), name);
  } catch (e) {
    if (isNotFound(e)) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no durable ${kind} for ${JSON.stringify(agent)}`);
    throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `consumer ${name}`);
  }
  return { pending: info.num_pending, unacknowledged: info.num_ack_pending, ackFloor: info.ack_floor.stream_seq, delivered: info.delivered.stream_seq };
}

/** True once the message stored at streamSeq has been acknowledged by the agent (acks are in order here). */
export function isAcknowledged(status: DeliveryStatus, streamSeq: number): boolean {
  return streamSeq <= status.ackFloor;
}
