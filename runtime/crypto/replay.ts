// Replay protection for signed envelopes: created_at must be within the skew window of
// the receiver's clock (605), the message must not have expired by its ttl (602), and an
// id already seen from the same sender inside the window is a replay (604). An id is
// remembered exactly as long as a copy of it could still pass the time checks, so the
// cache is bounded by traffic within the window; when it is full of live ids it fails
// closed (804) rather than forgetting one.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { systemClock, type Clock } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";

export const DEFAULT_SKEW_MS = 120_000;
export const DEFAULT_REPLAY_ENTRIES = 200_000;
/** The largest ttl_seconds any receiver accepts (spec/signing.md): 30 days. Above it, 709. */
export const MAX_TTL_SECONDS = 2_592_000;

/** Stateless time checks (605 skew, 709 ttl over MAX_TTL_SECONDS, 602 expired); returns the last instant a copy could still pass. */
export function checkFreshness(env: Pick<Envelope, "createdAt" | "ttlSeconds">, now: number, skewMs = DEFAULT_SKEW_MS): number {
  if (!env.createdAt) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "created_at is required", { pointer: "/createdAt" });
  const created = timestampMs(env.createdAt);
  if (!Number.isFinite(created) || Math.abs(now - created) > skewMs) {
    throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, `created_at is ${Math.round((created - now) / 1000)} s from this clock (window ±${skewMs / 1000} s)`, { pointer: "/createdAt" });
  }
  if (env.ttlSeconds > MAX_TTL_SECONDS) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `ttl_seconds ${env.ttlSeconds} is over the maximum ${MAX_TTL_SECONDS} (30 days)`, { pointer: "/ttlSeconds" });
  }
  const expires = created + env.ttlSeconds * 1000;
  if (now >= expires) throw new FleetError(ErrorCode.SECURITY_TOKEN_EXPIRED, "message expired (created_at + ttl_seconds)", { pointer: "/ttlSeconds" });
  return Math.min(expires, created + skewMs);
}

export class ReplayGuard {
  readonly skewMs: number;
  readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly seen = new Map<string, number>();
  private nextPruneAt = 0;

  constructor(opts: { skewMs?: number; maxEntries?: number; clock?: Clock } = {}) {
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_REPLAY_ENTRIES;
    this.clock = opts.clock ?? systemClock;
  }

  /** Throws 605, 602 or 604; otherwise records the id. Call only after the signature verified. */
  check(env: Envelope): void {
    const now = this.clock.now();
    const until = checkFreshness(env, now, this.skewMs);
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
    let earliest = Infinity;
    for (const [k, until] of this.seen) {
      if (until < now) this.seen.delete(k);
      else if (until < earliest) earliest = until;
    }
    // Nothing can expire before the earliest remaining deadline: skip scans until then.
    this.nextPruneAt = this.seen.size >= this.maxEntries ? earliest : 0;
  }
}
