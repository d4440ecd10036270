// Message-in-a-bottle (spec/bottles.md): the origin signs a BottleLetter; relays verify it,
// add a signed postmark per hop, hold it until its condition holds and its recipient is
// reachable, and report progress to the origin with signed BottleReceipts. Delivery is
// idempotent by bottle id at every engine and at the recipient's inbox.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import { type Bottle, type BottleLetter, BottleLetterSchema, type BottleReceipt, BottleReceiptSchema, BottleSchema, BottleStatus, type Condition } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { ApplicationPayload } from "../../generated/proto/fleet/v1/payload_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock, TimerId } from "../clock.js";
import { DEFAULT_SKEW_MS, type Identity, type KeyResolver, MAX_TTL_SECONDS, openSignedEnvelope, signEnvelope } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { type ConditionWorld, evaluateCondition, parseCondition, pendingTimes, validateCondition } from "./bottle-condition.js";
import { stampBottle, verifyPostmarks } from "./bottle-postmark.js";
import { MemoryBottleStorage, type BottleStorage, type StoredBottle } from "./bottle-storage.js";
import { controlEnvelope, expiresAtMs } from "./envelope.js";
import { codePoints } from "../codec/validate.js";

export { BottleStatus };
export const DEFAULT_MAX_HOPS = 8;
export const DEFAULT_BOTTLE_TTL_SECONDS = 86_400;

export interface NewBottle {
  bottleId?: string;
  to: Recipient | { agent: string };
  condition?: Condition | string;
  payload: ApplicationPayload;
  ttlSeconds?: number;
  maxHops?: number;
}

/** The origin's bottle: a signed letter and no postmarks yet. */
export function createBottle(origin: Identity, clock: Clock, b: NewBottle): Bottle {
  const condition = typeof b.condition === "string" ? parseCondition(b.condition) : (b.condition ?? parseCondition("always"));
  validateCondition(condition);
  const recipient = "$typeName" in b.to ? b.to : { $typeName: "fleet.v1.Recipient" as const, target: { case: "agent" as const, value: b.to.agent } };
  const letter = create(BottleLetterSchema, { bottleId: b.bottleId ?? globalThis.crypto.randomUUID(), recipient, condition, payload: b.payload, maxHops: b.maxHops ?? DEFAULT_MAX_HOPS });
  const env = controlEnvelope({ sender: origin.agent, to: recipient, type: MessageType.EVENT, body: { case: "bottleLetter", value: letter }, clock, ttlSeconds: b.ttlSeconds ?? DEFAULT_BOTTLE_TTL_SECONDS });
  return create(BottleSchema, { letter: signEnvelope(env, origin) });
}

export interface OpenedBottle {
  envelope: Envelope;
  letter: BottleLetter;
  origin: string;
  expiresAt: number;
}

/**
 * A letter's time rules at every relay (spec/bottles.md): created_at not in the future beyond
 * the skew (605) and ttl_seconds at most MAX_TTL_SECONDS (709). An old letter is not refused
 * here: expiry is the relay's decision (it still deserves an EXPIRED receipt).
 */
export function checkLetterTime(envelope: Pick<Envelope, "createdAt" | "ttlSeconds">, now: number, skewMs = DEFAULT_SKEW_MS): void {
  const created = envelope.createdAt ? timestampMs(envelope.createdAt) : NaN;
  if (!(created <= now + skewMs)) throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, "letter created in the future", { pointer: "/letter/createdAt" });
  if (envelope.ttlSeconds > MAX_TTL_SECONDS) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `letter ttl_seconds over ${MAX_TTL_SECONDS}`, { pointer: "/letter/ttlSeconds" });
}

/**
 * Verifies the origin's signature (its key must be known), the letter's shape and every
 * postmark. Time: created_at may not be in the future beyond the skew; expiry is the
 * caller's decision (an expired bottle still deserves an EXPIRED receipt).
 */
export function openBottle(bottle: Bottle, keys: KeyResolver, clock: Clock): OpenedBottle {
  if (!bottle?.letter) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "bottle without letter", { pointer: "/letter" });
  const envelope = openSignedEnvelope(bottle.letter, { keys });
  if (envelope.body?.kind.case !== "bottleLetter") throw new FleetError(ErrorCode.WIRE_MALFORMED, "the letter's body is not a BottleLetter", { pointer: "/letter" });
  const letter = envelope.body.kind.value;
  if (!letter.bottleId || codePoints(letter.bottleId, 64) > 64) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "bottle_id must be 1..64 characters", { pointer: "/letter/bottleId" });
  if (!letter.recipient?.target.case) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "letter without recipient", { pointer: "/letter/recipient" });
  if (!letter.payload) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "letter without payload", { pointer: "/letter/payload" });
  validateCondition(letter.condition, "/letter/condition");
  checkLetterTime(envelope, clock.now());
  verifyPostmarks(bottle, letter.bottleId, keys);
  return { envelope, letter, origin: envelope.sender, expiresAt: expiresAtMs(envelope) };
}

export function bottleReceipt(bottleId: string, status: BottleStatus, reporter: string, atMs: number, reason: ErrorCode = ErrorCode.UNSPECIFIED, detail = ""): BottleReceipt {
  return create(BottleReceiptSchema, { bottleId, status, reason, detail, at: timestampFromMs(atMs), reporter });
}

export function signBottleReceipt(receipt: BottleReceipt, to: string, signer: Identity, clock: Clock): SignedEnvelope {
  return signEnvelope(controlEnvelope({ sender: signer.agent, to: { agent: to }, type: MessageType.STATUS, body: { case: "bottleReceipt", value: receipt }, clock }), signer);
}

export interface BottleEngineOptions {
  /** This node (hub or relay): signs postmarks and receipts. */
  identity: Identity;
  keys: KeyResolver;
  clock: Clock;
  storage?: BottleStorage;
  /** Presence and capabilities, for conditions and reachability. */
  world: Omit<ConditionWorld, "now">;
  /** Hand the bottle to its recipient(s) attached here; return false if that failed (it stays queued). */
  deliver: (bottle: Bottle, letter: BottleLetter) => boolean;
  /** Send a signed receipt towards the origin. */
  sendReceipt: (origin: string, receipt: SignedEnvelope) => void;
  /** Whether the recipient is attached to this node (default: agent recipients must be online; others always). */
  reachable?: (recipient: Recipient) => boolean;
}

export type AcceptOutcome = { status: BottleStatus; duplicate: boolean };

export class BottleEngine {
  private readonly storage: BottleStorage;
  private timer: TimerId | undefined;

  constructor(private readonly opts: BottleEngineOptions) {
    this.storage = opts.storage ?? new MemoryBottleStorage();
  }

  get(bottleId: string): StoredBottle | undefined {
    return this.storage.get(bottleId);
  }

  /**
   * Takes a bottle (from its origin or another relay). Invalid bottles throw and leave
   * nothing behind; a bottle id already held is a duplicate and changes nothing.
   */
  accept(bottle: Bottle): AcceptOutcome {
    const { clock, identity } = this.opts;
    const opened = openBottle(bottle, this.opts.keys, clock);
    const id = opened.letter.bottleId;
    const held = this.storage.get(id);
    if (held) return { status: held.status, duplicate: true };
    const now = clock.now();
    const record: StoredBottle = { bottleId: id, bottle, letter: opened.letter, origin: opened.origin, status: BottleStatus.QUEUED, reason: ErrorCode.UNSPECIFIED, detail: "", expiresAt: opened.expiresAt, updatedAt: now, relayed: false };
    const maxHops = opened.letter.maxHops || DEFAULT_MAX_HOPS;
    if (now >= opened.expiresAt) return this.settle(record, BottleStatus.EXPIRED, ErrorCode.DELIVERY_EXPIRED, "expired before it arrived");
    if (bottle.postmarks.length + 1 > maxHops) return this.settle(record, BottleStatus.FAILED, ErrorCode.DELIVERY_HOP_LIMIT, `more than ${maxHops} hops`);
    record.bottle = stampBottle(bottle, id, identity, now);
    this.settle(record, BottleStatus.QUEUED);
    this.evaluate();
    return { status: this.storage.get(id)!.status, duplicate: false };
  }

  /** Re-checks every queued bottle (call on presence or capability changes). */
  evaluate(): void {
    const now = this.opts.clock.now();
    const world: ConditionWorld = { now, ...this.opts.world };
    const reachable = this.opts.reachable ?? ((r: Recipient) => r.target.case !== "agent" || this.opts.world.isOnline(r.target.value));
    for (const r of [...this.storage.all()]) {
      if (r.status !== BottleStatus.QUEUED || r.relayed) continue;
      if (now >= r.expiresAt) {
        this.settle(r, BottleStatus.EXPIRED, ErrorCode.DELIVERY_EXPIRED, "ttl ran out while queued");
        continue;
      }
      if (!evaluateCondition(r.letter.condition!, world) || !reachable(r.letter.recipient!)) continue;
      if (this.opts.deliver(r.bottle, r.letter)) this.settle(r, BottleStatus.DELIVERED);
    }
    this.schedule();
  }

  /** Gives a queued bottle to another relay; this node will not deliver it itself. */
  relay(bottleId: string): Bottle {
    const r = this.storage.get(bottleId);
    if (!r || r.status !== BottleStatus.QUEUED || r.relayed) throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, `bottle ${bottleId} is not queued here`);
    this.storage.put({ ...r, relayed: true, updatedAt: this.opts.clock.now() });
    return r.bottle;
  }

  /**
   * The recipient's signed ACKNOWLEDGED receipt (from its BottleInbox): verified, checked
   * against the recipient, recorded, and passed on to the origin unchanged (end to end).
   */
  acknowledged(signed: SignedEnvelope): BottleStatus {
    const env = openSignedEnvelope(signed, { keys: this.opts.keys, clock: this.opts.clock });
    if (env.body?.kind.case !== "bottleReceipt") throw new FleetError(ErrorCode.WIRE_MALFORMED, "not a bottle receipt", { pointer: "/body" });
    const receipt = env.body.kind.value;
    const r = this.storage.get(receipt.bottleId);
    if (!r) throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, `no bottle ${receipt.bottleId} here`, { pointer: "/body/bottleReceipt/bottleId" });
    checkAcknowledger(r.letter, env, receipt);
    if (r.status === BottleStatus.ACKNOWLEDGED) return r.status;
    if (r.status !== BottleStatus.DELIVERED) throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, `bottle ${r.bottleId} is not delivered`, { pointer: "/body/bottleReceipt/status" });
    this.storage.put({ ...r, status: BottleStatus.ACKNOWLEDGED, updatedAt: this.opts.clock.now() });
    this.opts.sendReceipt(r.origin, signed);
    return BottleStatus.ACKNOWLEDGED;
  }

  /** Forgets settled bottles whose letters have expired (they can no longer be replayed into delivery). */
  purge(): number {
    const now = this.opts.clock.now();
    let n = 0;
    for (const r of [...this.storage.all()]) {
      if (r.status !== BottleStatus.QUEUED && now >= r.expiresAt) {
        this.storage.delete(r.bottleId);
        n++;
      }
    }
    return n;
  }

  stop(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private settle(r: StoredBottle, status: BottleStatus, reason: ErrorCode = ErrorCode.UNSPECIFIED, detail = ""): AcceptOutcome {
    const now = this.opts.clock.now();
    this.storage.put({ ...r, status, reason, detail, updatedAt: now });
    const receipt = bottleReceipt(r.bottleId, status, this.opts.identity.agent, now, reason, detail);
    this.opts.sendReceipt(r.origin, signBottleReceipt(receipt, r.origin, this.opts.identity, this.opts.clock));
    return { status, duplicate: false };
  }

  /** One timer at the next instant that can change a queued bottle (a not_before or an expiry). */
  private schedule(): void {
    this.stop();
    const now = this.opts.clock.now();
    let next = Infinity;
    for (const r of this.storage.all()) {
      if (r.status !== BottleStatus.QUEUED || r.relayed) continue;
      next = Math.min(next, r.expiresAt, ...pendingTimes(r.letter.condition!, now));
    }
    if (next === Infinity) return;
    this.timer = this.opts.clock.setTimer(() => {
      this.timer = undefined;
      this.evaluate();
    }, next - now);
  }
}

function checkAcknowledger(letter: BottleLetter, env: Envelope, receipt: BottleReceipt): void {
  if (receipt.status !== BottleStatus.ACKNOWLEDGED) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "only ACKNOWLEDGED comes from a recipient", { pointer: "/body/bottleReceipt/status" });
  if (receipt.reporter !== env.sender) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "reporter differs from the signer", { pointer: "/body/bottleReceipt/reporter" });
  const t = letter.recipient?.target;
  if (t?.case === "agent" && t.value !== env.sender) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `only ${t.value} can acknowledge this bottle`, { pointer: "/sender" });
}

export interface InboxOptions {
  identity: Identity;
  keys: KeyResolver;
  clock: Clock;
  /** Bottle ids seen, kept until their letters expire (the hub may persist them). */
  seen?: Map<string, number>;
}

/** The recipient's side: verifies, hands each bottle id over once, and acknowledges it. */
export class BottleInbox {
  private readonly seen: Map<string, number>;

  constructor(private readonly opts: InboxOptions) {
    this.seen = opts.seen ?? new Map();
  }

  /** The letter the first time a bottle id arrives (with the ACKNOWLEDGED receipt to send); undefined for a duplicate. */
  receive(bottle: Bottle): { letter: BottleLetter; origin: string; ack: SignedEnvelope } | undefined {
    const { clock, identity } = this.opts;
    const opened = openBottle(bottle, this.opts.keys, clock);
    const now = clock.now();
    if (now >= opened.expiresAt) throw new FleetError(ErrorCode.DELIVERY_EXPIRED, `bottle ${opened.letter.bottleId} expired`);
    const t = opened.letter.recipient!.target;
    if (t.case === "agent" && t.value !== identity.agent) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `bottle is for ${t.value}`, { pointer: "/letter/recipient" });
    for (const [id, until] of this.seen) if (until <= now) this.seen.delete(id);
    if (this.seen.has(opened.letter.bottleId)) return undefined;
    this.seen.set(opened.letter.bottleId, opened.expiresAt);
    const ack = signBottleReceipt(bottleReceipt(opened.letter.bottleId, BottleStatus.ACKNOWLEDGED, identity.agent, now), opened.origin, identity, clock);
    return { letter: opened.letter, origin: opened.origin, ack };
  }
}

const RANK: Record<number, number> = { [BottleStatus.QUEUED]: 1, [BottleStatus.DELIVERED]: 2, [BottleStatus.ACKNOWLEDGED]: 3, [BottleStatus.EXPIRED]: 3, [BottleStatus.FAILED]: 3 };

export interface TrackedBottle {
  bottleId: string;
  recipient: Recipient;
  status: BottleStatus;
  reason: ErrorCode;
  detail: string;
  history: BottleReceipt[];
}

/** The origin's view: each bottle's status from verified receipts, never moving backwards. */
export class BottleTracker {
  private readonly bottles = new Map<string, TrackedBottle>();

  constructor(private readonly opts: { keys: KeyResolver; clock: Clock; onChange?: (b: TrackedBottle) => void }) {}

  track(letter: Pick<BottleLetter, "bottleId" | "recipient">): void {
    this.bottles.set(letter.bottleId, { bottleId: letter.bottleId, recipient: letter.recipient!, status: BottleStatus.UNSPECIFIED, reason: ErrorCode.UNSPECIFIED, detail: "", history: [] });
  }

  get(bottleId: string): TrackedBottle | undefined {
    return this.bottles.get(bottleId);
  }

  /** Applies a signed receipt; throws for unsigned/forged ones (601), unknown bottles (105) or a foreign acknowledger (603). */
  receive(signed: SignedEnvelope): TrackedBottle {
    const env = openSignedEnvelope(signed, { keys: this.opts.keys, clock: this.opts.clock });
    if (env.body?.kind.case !== "bottleReceipt") throw new FleetError(ErrorCode.WIRE_MALFORMED, "not a bottle receipt", { pointer: "/body" });
    const receipt = env.body.kind.value;
    const b = this.bottles.get(receipt.bottleId);
    if (!b) throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, `not tracking bottle ${receipt.bottleId}`, { pointer: "/body/bottleReceipt/bottleId" });
    if (!RANK[receipt.status]) throw new FleetError(ErrorCode.VALIDATION_UNKNOWN_ENUM, "receipt without status", { pointer: "/body/bottleReceipt/status" });
    if (receipt.reporter !== env.sender) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "reporter differs from the signer", { pointer: "/body/bottleReceipt/reporter" });
    if (receipt.status === BottleStatus.ACKNOWLEDGED) checkAcknowledger({ recipient: b.recipient } as BottleLetter, env, receipt);
    b.history.push(receipt);
    if (RANK[receipt.status] > (RANK[b.status] ?? 0)) {
      b.status = receipt.status;
      b.reason = receipt.reason;
      b.detail = receipt.detail;
      this.opts.onChange?.(b);
    }
    return b;
  }
}
