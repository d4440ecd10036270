// Per-sender token bucket: `rate` messages per second on average, bursts up to `burst`.
import type { Clock } from "../clock.js";

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** rate <= 0 disables limiting. */
  constructor(private readonly rate: number, private readonly burst: number, private readonly clock: Clock) {}

  /** Takes one token for key; returns 0 when allowed, else milliseconds until one is available. */
  take(key: string): number {
    if (this.rate <= 0) return 0;
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / this.rate));
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }

  /**
   * Forgets every bucket that has refilled to its burst: a new bucket would be identical, so
   * nothing changes for its sender, and the table only holds senders active in the last
   * burst / rate seconds (2 s by default).
   */
  prune(): void {
    const now = this.clock.now();
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) * this.rate) / 1000 >= this.burst) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
