// Storage quotas for the offline inbox (every stored row counts until it is acknowledged,
// delivered or expired): bytes per recipient (HubOptions.inboxBytesPerRecipient, default
// 64 MiB), in total (inboxBytesTotal, 512 MiB), and for names the hub has never admitted
// (no pinned key) a small shared pool (inboxBytesUnknown, 1 MiB). A message that does not
// fit is refused with 804 and a retry hint, never dropped silently. The counts live in
// memory, start from the store, and are recounted from it at every sweep.
import { ErrorCode, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";

/** How long a sender refused for a full inbox is told to wait. */
export const QUOTA_RETRY_MS = 5_000;

export class InboxQuota {
  private perRecipient = new Map<string, number>();
  private total = 0;
  private unknown = 0;

  constructor(private readonly hub: Hub) {
    this.recount();
  }

  /** Recounts from the store (at start, after sweeps and failed commits). */
  recount(): void {
    this.perRecipient = this.hub.store.inboxBytes();
    this.total = 0;
    this.unknown = 0;
    for (const [r, n] of this.perRecipient) {
      this.total += n;
      if (!this.known(r)) this.unknown += n;
    }
  }

  private known(agent: string): boolean {
    return this.hub.pins.keyIdOf(agent) !== undefined;
  }

  /** Reserves bytes for each recipient, all or none; throws 804 naming the first quota that is full. */
  reserve(recipients: string[], bytes: number): void {
    const o = this.hub.options;
    let unknownAdd = 0;
    for (const r of recipients) {
      const known = this.known(r);
      if ((this.perRecipient.get(r) ?? 0) + bytes > o.inboxBytesPerRecipient) throw full(`${r}'s inbox is full (${o.inboxBytesPerRecipient} bytes stored)`);
      if (!known) unknownAdd += bytes;
    }
    if (this.total + bytes * recipients.length > o.inboxBytesTotal) throw full(`the hub's store is full (${o.inboxBytesTotal} bytes of inbox)`);
    if (unknownAdd && this.unknown + unknownAdd > o.inboxBytesUnknown) throw full(`the quota for names this hub never admitted is full (${o.inboxBytesUnknown} bytes)`);
    for (const r of recipients) this.perRecipient.set(r, (this.perRecipient.get(r) ?? 0) + bytes);
    this.total += bytes * recipients.length;
    this.unknown += unknownAdd;
  }

  /**
   * False only when nothing is stored for recipient: the counts are reserved before a row is
   * written, released after it is gone, and recounted from the store after a failed commit,
   * so they never fall below what the store holds. An admission skips its backlog query then.
   */
  holds(recipient: string): boolean {
    return this.perRecipient.has(recipient);
  }

  /** A name was just admitted (pinned): what is held for it leaves the unknown-names pool. */
  admitted(agent: string): void {
    this.unknown = Math.max(0, this.unknown - (this.perRecipient.get(agent) ?? 0));
  }

  /** A row of `bytes` for recipient left the store. */
  release(recipient: string, bytes: number): void {
    if (bytes <= 0) return;
    const left = (this.perRecipient.get(recipient) ?? 0) - bytes;
    if (left > 0) this.perRecipient.set(recipient, left);
    else this.perRecipient.delete(recipient);
    this.total = Math.max(0, this.total - bytes);
    if (!this.known(recipient)) this.unknown = Math.max(0, this.unknown - bytes);
  }

  get bytes(): { total: number; unknown: number; recipients: number } {
    return { total: this.total, unknown: this.unknown, recipients: this.perRecipient.size };
  }
}

function full(message: string): FleetError {
  return new FleetError(ErrorCode.DELIVERY_BUSY, `${message}; retry later`);
}
