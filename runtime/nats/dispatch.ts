// What happens to an authenticated envelope once it is ours: receipts to their handlers,
// answers to the request waiting for them, pings answered, everything else to the
// application's handlers, with PROCESSED/REJECTED receipts as the sender asked.
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type Receipt, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { errorFromBody, PING_MEDIA_TYPE } from "../client/bodies.js";
import type { MessageHandler } from "../client/connection.js";
import type { Clock } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";
import { AckResponder } from "../protocol/receipts.js";

export interface DispatchHost {
  clock: Clock;
  /** Publishes a receipt about original to its sender. */
  sendReceipt(receipt: Receipt, original: Envelope): void;
  /** Answers a ping (a RESPONSE in reply to env, same body). */
  answerPing(env: Envelope): Promise<unknown>;
}

interface Waiter {
  resolve(env: Envelope): void;
  reject(e: FleetError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

export class NatsDispatcher {
  private readonly handlers = new Set<MessageHandler>();
  private readonly receiptHandlers = new Set<(r: Receipt, from: string) => void>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly acks: AckResponder;
  private firstHandler?: Deferred;

  constructor(private readonly host: DispatchHost) {
    this.acks = new AckResponder({ clock: host.clock });
  }

  /**
   * Receipts, waiters and handlers for an authenticated envelope. A durable message that
   * arrives before any handler is registered waits (unacked, in order) for one, so
   * registering onMessage after connect loses nothing.
   */
  async dispatch(env: Envelope, durable: boolean): Promise<void> {
    const body = env.body?.kind;
    if (body?.case === "receipt") {
      for (const h of this.receiptHandlers) h(body.value, env.sender);
      return;
    }
    const decision = this.acks.receive(env);
    if (decision.receipt?.status === ReceiptStatus.REJECTED) this.host.sendReceipt(decision.receipt, env);
    if (!decision.deliver) return;
    const waiter = env.inReplyTo ? this.waiters.get(env.inReplyTo) : undefined;
    if (waiter && env.type !== MessageType.REQUEST) {
      this.waiters.delete(env.inReplyTo);
      clearTimeout(waiter.timer);
      const err = body ? errorFromBody(body) : undefined;
      if (err) waiter.reject(err);
      else waiter.resolve(env);
    } else if (body?.case === "application" && body.value.mediaType === PING_MEDIA_TYPE && env.type !== MessageType.RESPONSE) {
      // Pings are answered by the connection itself, as on the hub.
      await this.host.answerPing(env);
    } else {
      if (this.handlers.size === 0) {
        if (!durable) return;
        await this.handlerRegistered();
      }
      for (const h of [...this.handlers]) {
        try {
          h(env, { verified: true });
        } catch {
          // a handler's failure is its own
        }
      }
    }
    if (env.requiresAck) this.host.sendReceipt(this.acks.processed(env), env);
  }

  /** The first envelope whose in_reply_to is id; 805 after timeoutMs. */
  expect(id: string, timeoutMs: number): Promise<Envelope> {
    return new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `no answer to ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  /** Stops waiting for an answer to id (its request could not be sent). */
  cancel(id: string): void {
    const w = this.waiters.get(id);
    if (w) clearTimeout(w.timer);
    this.waiters.delete(id);
  }

  onMessage(handler: MessageHandler): () => void {
    this.handlers.add(handler);
    this.firstHandler?.resolve();
    this.firstHandler = undefined;
    return () => this.handlers.delete(handler);
  }

  onReceipt(handler: (r: Receipt, from: string) => void): () => void {
    this.receiptHandlers.add(handler);
    return () => this.receiptHandlers.delete(handler);
  }

  private handlerRegistered(): Promise<void> {
    if (!this.firstHandler) {
      const w = {} as Deferred;
      w.promise = new Promise<void>((resolve, reject) => Object.assign(w, { resolve, reject }));
      this.firstHandler = w;
    }
    return this.firstHandler.promise;
  }

  /** Rejects every pending request; a durable message still waiting for a handler stays unacked (redelivered later). */
  close(): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed"));
    }
    this.waiters.clear();
    this.firstHandler?.reject(new Error("connection closed"));
  }
}
