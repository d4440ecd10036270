// A bounded inbox for an agent process that reads messages when it chooses (fleet mcp):
// arriving messages wait here until read; a reader may wait for the next one. Bounded:
// at most `capacity` unread messages (the oldest unread is dropped first and counted in
// `dropped`), at most MAX_WAITERS waiting readers, and the last `recent` messages (read or
// not) remembered by id so a reply can name one.
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorCode, FleetError } from "../errors.js";

export interface InboxEntry {
  env: Envelope;
  verified: boolean;
  receivedAt: number;
}

export interface InboxOptions {
  /** Unread messages kept (default 1,000). */
  capacity?: number;
  /** Messages remembered by id for replies (default 1,000). */
  recent?: number;
}

export const MAX_WAITERS = 64;

export class Inbox {
  readonly capacity: number;
  private readonly recentLimit: number;
  private unread: InboxEntry[] = [];
  private readonly recent = new Map<string, InboxEntry>();
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(e: InboxEntry) => void>();
  /** Unread messages dropped because the inbox was full. */
  dropped = 0;

  constructor(o: InboxOptions = {}) {
    this.capacity = o.capacity ?? 1_000;
    this.recentLimit = o.recent ?? 1_000;
    if (!(this.capacity >= 1) || !(this.recentLimit >= 1)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "inbox capacity and recent must be at least 1");
  }

  get size(): number {
    return this.unread.length;
  }

  push(env: Envelope, verified: boolean, now = Date.now()): void {
    const entry = { env, verified, receivedAt: now };
    this.unread.push(entry);
    if (this.unread.length > this.capacity) {
      this.unread.shift();
      this.dropped++;
    }
    this.recent.delete(env.id);
    this.recent.set(env.id, entry);
    if (this.recent.size > this.recentLimit) this.recent.delete(this.recent.keys().next().value!);
    for (const w of [...this.waiters]) w();
    for (const l of this.listeners) {
      try {
        l(entry);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Calls listener for every arriving message; returns the unsubscribe. */
  onArrival(listener: (e: InboxEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A message seen recently (read or not), by id. */
  get(id: string): InboxEntry | undefined {
    return this.recent.get(id);
  }

  /** The unread messages, oldest first, without consuming them. */
  peek(max = this.capacity): InboxEntry[] {
    return this.unread.slice(0, max);
  }

  /** Takes up to max unread messages, oldest first. */
  take(max: number): InboxEntry[] {
    return this.unread.splice(0, Math.max(1, max));
  }

  /**
   * Takes up to max messages, waiting up to waitMs for the first when none is unread.
   * Resolves with [] when the time runs out or signal aborts.
   */
  async next(max: number, waitMs: number, signal?: AbortSignal): Promise<InboxEntry[]> {
    if (this.unread.length || waitMs <= 0) return this.take(max);
    if (this.waiters.size >= MAX_WAITERS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `too many readers waiting (${MAX_WAITERS})`);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
      signal?.addEventListener("abort", done);
    });
    return this.take(max);
  }
}
