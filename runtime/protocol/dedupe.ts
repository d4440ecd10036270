// Receiver-side duplicate suppression for messages that require an ack: the sender
// retries with the same id, and this makes the retry harmless. Bounded in time (the
// window) and in size; when full of live ids it refuses new ones (804) rather than
// forgetting one and risking a second delivery.
import type { Receipt } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { Clock } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";

/** agentnet's dedupe window. */
export const DEFAULT_DEDUPE_WINDOW_MS = 600_000;
export const DEFAULT_DEDUPE_ENTRIES = 100_000;

export interface DedupeRecord {
  /** When the id was first seen. */
  at: number;
  /** The receipt answered the first time (replayed in spirit on duplicates). */
  receipt?: Receipt;
}

export class Deduper {
  readonly windowMs: number;
  readonly maxEntries: number;
  private readonly seen = new Map<string, DedupeRecord>();

  constructor(private readonly opts: { clock: Clock; windowMs?: number; maxEntries?: number }) {
    this.windowMs = opts.windowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_DEDUPE_ENTRIES;
  }

  static key(sender: string, id: string): string {
    return `${sender}\u0000${id}`;
  }

  /** The earlier record when key was seen inside the window. */
  lookup(key: string): DedupeRecord | undefined {
    const r = this.seen.get(key);
    if (r && this.opts.clock.now() - r.at < this.windowMs) return r;
    return undefined;
  }

  /** Remembers key (first sighting wins). Throws 804 when full of ids still inside the window. */
  remember(key: string, receipt?: Receipt): void {
    const prior = this.lookup(key);
    if (prior) {
      prior.receipt ??= receipt;
      return;
    }
    this.seen.delete(key);
    if (this.seen.size >= this.maxEntries) this.prune();
    if (this.seen.size >= this.maxEntries) throw new FleetError(ErrorCode.DELIVERY_BUSY, "dedupe window is full; retry later");
    this.seen.set(key, { at: this.opts.clock.now(), receipt });
  }

  get size(): number {
    return this.seen.size;
  }

  /** Drops ids older than the window; insertion order is time order, so stop at the first live one. */
  prune(): void {
    const now = this.opts.clock.now();
    for (const [k, r] of this.seen) {
      if (now - r.at < this.windowMs) break;
      this.seen.delete(k);
    }
  }
}
