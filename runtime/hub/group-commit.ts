// Durable receipts by group commit: messages that need storing (acked ones, and anything
// for offline recipients) and recipients' acknowledgements are queued, then committed to
// SQLite in one transaction per event-loop turn; only then are receipts sent and the
// messages delivered. A failed commit rejects every message in the batch (808).
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { asFleetError, ErrorCode, type FleetError } from "../errors.js";
import { deliver, receipt, reject } from "./delivery.js";
import type { Hub } from "./hub.js";
import type { Routed } from "./peer.js";
import { QUOTA_RETRY_MS } from "./quota.js";
import { verifyBeforeStore } from "./store-verify.js";

export interface PendingWrite {
  msg: Routed;
  /** Recipients to store a row for. */
  store: string[];
  /** Online recipients to deliver to once committed. */
  deliver: string[];
  ack: boolean;
}

export class GroupCommit {
  private pending: PendingWrite[] = [];
  private inboxAcks: [string, string][] = [];
  private scheduled = false;

  constructor(private readonly hub: Hub) {}

  enqueue(w: PendingWrite): void {
    this.pending.push(w);
    this.schedule();
  }

  /** A recipient acknowledged a stored message: its row can go. */
  acknowledged(agent: string, messageId: string): void {
    this.inboxAcks.push([agent, messageId]);
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Commits everything pending in one transaction, then answers and delivers. */
  flush(): void {
    this.scheduled = false;
    if (!this.pending.length && !this.inboxAcks.length) return;
    const hub = this.hub;
    const { store } = hub;
    const batch = this.pending;
    const acks = this.inboxAcks;
    this.pending = [];
    this.inboxAcks = [];
    const now = hub.clock.now();
    const dup = new Set<PendingWrite>();
    const refused = new Map<PendingWrite, FleetError>();
    for (const w of batch) {
      try {
        // verify "none" forwards unverified, but never stores a forgery (store-verify.ts).
        if (w.msg.signed && hub.options.verify === "none") verifyBeforeStore(w.msg.packet, w.msg.peer.publicKey);
        hub.quota.reserve(w.store, w.msg.packet.length);
      } catch (e) {
        refused.set(w, asFleetError(e, ErrorCode.DELIVERY_BUSY, "store"));
      }
    }
    const released: [string, number][] = [];
    try {
      store.transaction(() => {
        for (const [agent, id] of acks) released.push([agent, store.removeInbox(agent, id)]);
        for (const w of batch) {
          if (refused.has(w)) continue;
          const { head, packet } = w.msg;
          if (w.ack && store.seen(head.sender, head.id, now - hub.options.dedupeWindowMs)) {
            dup.add(w);
            for (const r of w.store) released.push([r, packet.length]);
            continue;
          }
          const expiresAt = timestampMs(head.createdAt) + head.ttlSeconds * 1000;
          for (const r of w.store) {
            if (!store.addInbox({ recipient: r, messageId: head.id, sender: head.sender, packet, expiresAt, needsAck: w.ack })) released.push([r, packet.length]);
          }
          if (w.ack) store.remember(head.sender, head.id, now);
        }
      });
    } catch (e) {
      const err = asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "store");
      hub.log(`store failed: ${err.message}`);
      hub.quota.recount();
      for (const w of batch) reject(hub, w.msg.peer, w.msg.head, refused.get(w) ?? err);
      return;
    }
    for (const [agent, bytes] of released) hub.quota.release(agent, bytes);
    for (const w of batch) {
      const { peer, head, env } = w.msg;
      const refusal = refused.get(w);
      if (refusal) {
        reject(hub, peer, head, refusal, refusal.code === ErrorCode.DELIVERY_BUSY ? QUOTA_RETRY_MS : 0);
        continue;
      }
      if (dup.has(w)) {
        if (w.ack) receipt(hub, peer, head, ReceiptStatus.ACCEPTED, ErrorCode.DELIVERY_DUPLICATE, "duplicate: already accepted");
        continue;
      }
      hub.counters.stored += w.store.length;
      if (w.ack) receipt(hub, peer, head, ReceiptStatus.ACCEPTED);
      for (const t of w.deliver) {
        const p = hub.peer(t);
        if (p) deliver(p, w.msg.packet, w.msg.signed, env);
      }
    }
  }
}
