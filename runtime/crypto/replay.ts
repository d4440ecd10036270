// Replay protection for signed envelopes: created_at must be within the skew window of
// the receiver's clock (605), the message must not have expired by its ttl (602), and an
// id already seen from the same sender inside the window is a replay (604). An id is
// remembered exactly as long as a copy of it could still pass the time checks, so the
// cache is bounded by traffic within the window; when it is full of live ids it fails
// closed (804) rather than forgetting one.
//
// Two windows (spec/signing.md): "skew" (live traffic: a copy older than the skew fails the
// time checks, so ids are kept until min(expiry, created_at + skew)) and "ttl" (store-and-
// forward traffic, e.g. a hub's offline inbox: old messages are legitimate, so only a
// created_at in the future beyond the skew is refused and ids are kept until the message
// expires; MAX_TTL_SECONDS bounds that). The seen ids live in a ReplayStore: in memory by
// default, or durable (runtime/node/replay-store.ts) to survive process restarts.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { systemClock, type Clock } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";

export const DEFAULT_SKEW_MS = 120_000;
export const DEFAULT_REPLAY_ENTRIES = 200_000;
/** The largest ttl_seconds any receiver accepts (spec/signing.md): 30 days. Above it, 709. */
export const MAX_TTL_SECONDS = 2_592_000;

/** Stateless time checks (605 skew, 709 ttl over MAX_TTL_SECONDS, 602 expired); returns the last instant a copy could still pass. */
export function checkFreshness(env: Pick<Envelope, "createdAt" | "ttlSeconds">, now: number, skewMs = DEFAULT_SKEW_MS, window: ReplayWindow = "skew"): number {
  if (!env.createdAt) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "created_at is required", { pointer: "/createdAt" });
  const created = timestampMs(env.createdAt);
  const skewed = window === "skew" ? Math.abs(now - created) > skewMs : created - now > skewMs;
  if (!Number.isFinite(created) || skewed) {
    throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, `created_at is ${Math.round((created - now) / 1000)} s from this clock (window ±${skewMs / 1000} s)`, { pointer: "/createdAt" });
  }
  if (env.ttlSeconds > MAX_TTL_SECONDS) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `ttl_seconds ${env.ttlSeconds} is over the maximum ${MAX_TTL_SECONDS} (30 days)`, { pointer: "/ttlSeconds" });
  }
  const expires = created + env.ttlSeconds * 1000;
  if (now >= expires) throw new FleetError(ErrorCode.SECURITY_TOKEN_EXPIRED, "message expired (created_at + ttl_seconds)", { pointer: "/ttlSeconds" });
  return window === "skew" ? Math.min(expires, created + skewMs) : expires;
}

/** "skew": live traffic (±skew); "ttl": stored traffic (only the future is bounded; ids kept until expiry). */
export type ReplayWindow = "skew" | "ttl";

/** Where seen (sender, id) pairs are kept, each with the instant until which it is remembered. */
export interface ReplayStore {
  get(key: string): number | undefined;
  set(key: string, until: number): void;
  readonly size: number;
  /** Forgets every entry whose instant is before now; returns the earliest instant left (Infinity if none). */
  prune(now: number): number;
}

/** The default ReplayStore: a Map in memory. */
export class MemoryReplayStore implements ReplayStore {
  private readonly seen = new Map<string, number>();
  get(key: string): number | undefined {
    return this.seen.get(key);
  }
  set(key: string, until: number): void {
    this.seen.set(key, until);
  }
  get size(): number {
    return this.seen.size;
  }
  prune(now: number): number {
    let earliest = Infinity;
    for (const [k, until] of this.seen) {
      if (until < now) this.seen.delete(k);
      else if (until < earliest) earliest = until;
    }
    return earliest;
  }
}

export class ReplayGuard {
  readonly skewMs: number;
  readonly maxEntries: number;
  readonly window: ReplayWindow;
  private readonly clock: Clock;
  private readonly seen: ReplayStore;
  private nextPruneAt = 0;

  constructor(opts: { skewMs?: number; maxEntries?: number; clock?: Clock; window?: ReplayWindow; store?: ReplayStore } = {}) {
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_REPLAY_ENTRIES;
    this.clock = opts.clock ?? systemClock;
    this.window = opts.window ?? "skew";
    this.seen = opts.store ?? new MemoryReplayStore();
  }

  /** Throws 605, 709, 602 or 604, or 804 when full of live ids; otherwise records the id. Call only after the signature verified. */
  check(env: Envelope): void {
    const now = this.clock.now();
    const until = checkFreshness(env, now, this.skewMs, this.window);
    const key = `${env.sender}\u0000${env.id}`;
    const prev = this.seen.get(key);
    if (prev !== undefined && prev >= now) throw new FleetError(ErrorCode.SECURITY_REPLAY, `replayed message ${env.id} from ${env.sender}`, { pointer: "/id" });
    if (prev === undefined && this.seen.size >= this.maxEntries) this.prune(now);
    if (prev === undefined && this.seen.size >= this.maxEntries) {
      throw new FleetError(ErrorCode.DELIVERY_BUSY, "replay cache is full of live ids; retry later");
    }
    this.seen.set(key, until);
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    if (now < this.nextPruneAt) return;
    const earliest = this.seen.prune(now);
    // Nothing can expire before the earliest remaining deadline: skip scans until then.
    this.nextPruneAt = this.seen.size >= this.maxEntries ? earliest : 0;
  }
}
