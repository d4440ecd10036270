// Acks for messages with requires_ack (agentnet's semantics, signed): the receiver answers
// ACCEPTED / PROCESSED / REJECTED with a code in a signed Receipt; the sender's tracker
// resends the same envelope (same id) on timeout, and the receiver's Deduper makes that safe.
import { create } from "@bufbuild/protobuf";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type Receipt, ReceiptSchema, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock, TimerId } from "../clock.js";
import { type Identity, signEnvelope } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { Deduper } from "./dedupe.js";
import { controlEnvelope, expiresAtMs } from "./envelope.js";
import { SUPPORTED_VERSIONS } from "./versions.js";

export { ReceiptStatus };

/** agentnet's sender defaults: 2 attempts, 1.5 s apart. */
export const DEFAULT_RECEIPT_ATTEMPTS = 2;
export const DEFAULT_RECEIPT_TIMEOUT_MS = 1_500;

export function makeReceipt(messageId: string, status: ReceiptStatus, code: ErrorCode = ErrorCode.UNSPECIFIED, detail = "", retryAfterMs = 0): Receipt {
  return create(ReceiptSchema, { messageId, status, code, detail, retryAfterMs });
}

/** The receipt in a signed STATUS envelope back to the original sender (in_reply_to = its id). */
/** Not delivered; a REJECTED receipt when the sender asked for one. */
function refusal(env: Envelope, code: ErrorCode, detail: string, retryAfterMs = 0): AckDecision {
  return { deliver: false, receipt: env.requiresAck ? makeReceipt(env.id, ReceiptStatus.REJECTED, code, detail, retryAfterMs) : undefined };
}

export function signReceipt(receipt: Receipt, original: Pick<Envelope, "sender" | "id" | "correlationId">, signer: Identity, clock: Clock): SignedEnvelope {
  const env = controlEnvelope({
    sender: signer.agent,
    to: { agent: original.sender },
    type: MessageType.STATUS,
    body: { case: "receipt", value: receipt },
    clock,
    inReplyTo: original.id,
    correlationId: original.correlationId,
  });
  return signEnvelope(env, signer);
}

export interface AckDecision {
  /** Hand the message to the application (false for duplicates and rejections). */
  deliver: boolean;
  /** The receipt to send (absent when the message did not ask for one). */
  receipt?: Receipt;
}

export interface AckResponderOptions {
  clock: Clock;
  deduper?: Deduper;
  versions?: readonly string[];
  /**
   * Admission after the protocol checks: return a refusal with 603 (unauthorized),
   * 803 (rate-limited) or 804 (busy), and when to retry; undefined admits.
   */
  admit?: (env: Envelope) => { code: ErrorCode; detail?: string; retryAfterMs?: number } | undefined;
}

/**
 * Receiver side. Give it envelopes that already passed openSignedEnvelope; it decides the
 * receipt. Rejections for busy / rate-limited / unauthorized are not remembered, so a later
 * retry can still be accepted; an accepted id is remembered, so a retry gets 801 and is
 * not delivered again.
 */
export class AckResponder {
  readonly deduper: Deduper;
  private readonly versions: readonly string[];

  constructor(private readonly opts: AckResponderOptions) {
    this.deduper = opts.deduper ?? new Deduper({ clock: opts.clock });
    this.versions = opts.versions ?? SUPPORTED_VERSIONS;
  }

  receive(env: Envelope): AckDecision {
    // No closure here: this runs for every message delivered.
    if (!this.versions.includes(env.protocolVersion)) return refusal(env, ErrorCode.DELIVERY_UNSUPPORTED_VERSION, `version ${env.protocolVersion} not in ${this.versions.join(", ")}`);
    if (expiresAtMs(env) <= this.opts.clock.now()) return refusal(env, ErrorCode.DELIVERY_EXPIRED, "expired before delivery");
    if (!env.requiresAck) return { deliver: true };
    const key = Deduper.key(env.sender, env.id);
    const prior = this.deduper.lookup(key);
    if (prior) return refusal(env, ErrorCode.DELIVERY_DUPLICATE, `already ${ReceiptStatus[prior.receipt?.status ?? ReceiptStatus.ACCEPTED].toLowerCase()}`);
    const refused = this.opts.admit?.(env);
    if (refused) return refusal(env, refused.code, refused.detail ?? "", refused.retryAfterMs ?? 0);
    const receipt = makeReceipt(env.id, ReceiptStatus.ACCEPTED);
    try {
      this.deduper.remember(key, receipt);
    } catch (e) {
      if (e instanceof FleetError) return refusal(env, e.code, e.message, 1_000);
      throw e;
    }
    return { deliver: true, receipt };
  }

  /** The PROCESSED receipt once the application handled the message. */
  processed(env: Envelope, detail = ""): Receipt {
    const receipt = makeReceipt(env.id, ReceiptStatus.PROCESSED, ErrorCode.UNSPECIFIED, detail);
    const r = this.deduper.lookup(Deduper.key(env.sender, env.id));
    if (r) r.receipt = receipt;
    return receipt;
  }
}

interface Pending {
  expectFrom?: string;
  attempts: number;
  resend: (attempt: number) => void;
  resolve: (r: Receipt) => void;
  reject: (e: FleetError) => void;
  timer?: TimerId;
}

export interface ReceiptTrackerOptions {
  clock: Clock;
  attempts?: number;
  timeoutMs?: number;
}

/** Sender side: waits for the receipt of each message, resending the same envelope on timeout. */
export class ReceiptTracker {
  readonly attempts: number;
  readonly timeoutMs: number;
  private readonly pending = new Map<string, Pending>();
  private paused = false;

  constructor(private readonly opts: ReceiptTrackerOptions) {
    this.attempts = opts.attempts ?? DEFAULT_RECEIPT_ATTEMPTS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RECEIPT_TIMEOUT_MS;
  }

  /**
   * Call after the first send. Resolves with the receipt (ACCEPTED, PROCESSED, or a
   * DUPLICATE rejection, which means an earlier attempt got through); rejects with the
   * receipt's code, or with 805 after the last attempt timed out. resend(n) must send the
   * identical message again (same id).
   */
  track(messageId: string, resend: (attempt: number) => void, expectFrom?: string): Promise<Receipt> {
    if (this.pending.has(messageId)) throw new FleetError(ErrorCode.DELIVERY_DUPLICATE, `already tracking ${messageId}`);
    return new Promise<Receipt>((resolve, reject) => {
      const p: Pending = { expectFrom, attempts: 1, resend, resolve, reject };
      this.pending.set(messageId, p);
      this.arm(messageId, p, this.timeoutMs);
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * A receipt arrived (already verified). Returns false for an id not tracked (a late or
   * second receipt: nothing changes). A receipt signed by someone other than the
   * recipient is refused with 603 and changes nothing.
   */
  onReceipt(receipt: Receipt, from: string): boolean {
    const p = this.pending.get(receipt.messageId);
    if (!p) return false;
    if (p.expectFrom !== undefined && from !== p.expectFrom) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `receipt for ${receipt.messageId} from ${from}, expected ${p.expectFrom}`);
    const retryable = receipt.status === ReceiptStatus.REJECTED && (receipt.code === ErrorCode.DELIVERY_BUSY || receipt.code === ErrorCode.DELIVERY_RATE_LIMITED);
    if (retryable && p.attempts < this.attempts) {
      this.arm(receipt.messageId, p, receipt.retryAfterMs || this.timeoutMs);
      return true;
    }
    this.finish(receipt.messageId, p);
    if (receipt.status === ReceiptStatus.REJECTED && receipt.code !== ErrorCode.DELIVERY_DUPLICATE) {
      p.reject(new FleetError(receipt.code || ErrorCode.UNKNOWN_ERROR, `rejected: ${receipt.detail || ErrorCode[receipt.code]}`));
    } else {
      p.resolve(receipt);
    }
    return true;
  }

  /** Stops waiting for one message (its first send failed): its promise rejects with error. */
  cancel(messageId: string, error: FleetError): void {
    const p = this.pending.get(messageId);
    if (!p) return;
    this.finish(messageId, p);
    p.reject(error);
  }

  /** Stops waiting for everything (connection closed): each pending promise rejects with code. */
  cancelAll(code: ErrorCode = ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE): void {
    for (const [id, p] of this.pending) {
      this.finish(id, p);
      p.reject(new FleetError(code, `no receipt for ${id}: cancelled`));
    }
  }

  /**
   * The link is down: no timer runs and no attempt is spent until resume(). Messages
   * tracked meanwhile wait too.
   */
  pause(): void {
    this.paused = true;
    for (const p of this.pending.values()) {
      if (p.timer !== undefined) this.opts.clock.clearTimer(p.timer);
      p.timer = undefined;
    }
  }

  /**
   * The link is back: every message still without a receipt is sent again (same id; the
   * attempt lost with the link is not counted), except those in `skip` (written just now
   * for the first time), and the timers restart.
   */
  resume(skip: ReadonlySet<string> = new Set()): void {
    this.paused = false;
    for (const [id, p] of [...this.pending]) {
      if (!skip.has(id)) p.resend(p.attempts);
      if (this.pending.get(id) === p) this.arm(id, p, this.timeoutMs);
    }
  }

  /** Ids still waiting for a receipt. */
  ids(): string[] {
    return [...this.pending.keys()];
  }

  private arm(id: string, p: Pending, delay: number): void {
    if (p.timer !== undefined) this.opts.clock.clearTimer(p.timer);
    p.timer = undefined;
    if (this.paused) return;
    const fire = () => {
      if (p.attempts >= this.attempts) {
        this.finish(id, p);
        p.reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `no receipt for ${id} after ${p.attempts} attempts`));
        return;
      }
      p.attempts++;
      p.resend(p.attempts);
      this.arm(id, p, this.timeoutMs);
    };
    p.timer = this.opts.clock.setTimer(fire, delay);
  }

  private finish(id: string, p: Pending): void {
    if (p.timer !== undefined) this.opts.clock.clearTimer(p.timer);
    this.pending.delete(id);
  }
}
