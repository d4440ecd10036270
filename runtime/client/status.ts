// A connection's status, observable as events (onStatus) and as an async iterator
// (statuses()). The same five words on every FleetConnection (hub or NATS):
//   connecting    the first connection attempt is under way
//   connected     handshaken (hub) or attached (NATS); sends go out at once
//   disconnected  the link was lost; nothing is sent until it is back
//   reconnecting  an attempt to get it back is under way (after a jittered backoff)
//   closed        for good (close(), drain(), a hub's error frame, or reconnection gave up)
import { AsyncQueue } from "./async-queue.js";

export type ConnectionStatus = "connecting" | "connected" | "disconnected" | "reconnecting" | "closed";

export interface StatusEvent {
  status: ConnectionStatus;
  /** Reconnection attempts since the link was lost (0 when connected). */
  attempt: number;
  /** What ended the link or the last attempt, when known. */
  error?: Error;
}

/** Status transitions each statuses() iterator holds for a slow reader; older ones are dropped (the latest is what matters). */
export const STATUS_BUFFER_LIMIT = 64;

export class StatusBoard {
  private current: StatusEvent;
  private readonly handlers = new Set<(e: StatusEvent) => void>();
  private readonly readers = new Set<AsyncQueue<StatusEvent>>();

  constructor(initial: ConnectionStatus = "connecting") {
    this.current = { status: initial, attempt: 0 };
  }

  get status(): ConnectionStatus {
    return this.current.status;
  }

  get event(): StatusEvent {
    return this.current;
  }

  set(status: ConnectionStatus, attempt = 0, error?: Error): void {
    if (this.current.status === "closed") return;
    if (status === this.current.status && attempt === this.current.attempt) return;
    this.current = error ? { status, attempt, error } : { status, attempt };
    for (const h of [...this.handlers]) {
      try {
        h(this.current);
      } catch {
        // a handler's failure is its own
      }
    }
    for (const r of this.readers) r.push(this.current);
    if (status === "closed") for (const r of [...this.readers]) r.end();
  }

  on(handler: (e: StatusEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Yields the current status first, then every change, ending after "closed". */
  iterate(): AsyncIterableIterator<StatusEvent> {
    const q: AsyncQueue<StatusEvent> = new AsyncQueue({ limit: STATUS_BUFFER_LIMIT, overflow: "drop-oldest", onEnd: () => this.readers.delete(q) });
    q.push(this.current);
    if (this.current.status === "closed") q.end();
    else this.readers.add(q);
    return q;
  }
}

/** Reconnection policy: jittered exponential backoff. */
export interface ReconnectOptions {
  /** First delay before an attempt (default 100 ms). */
  initialDelayMs?: number;
  /** Largest delay (default 1,000 ms: back within a second of the hub's return; see DEFAULT_RECONNECT). */
  maxDelayMs?: number;
  /** Attempts before giving up and closing (default: unlimited). */
  maxAttempts?: number;
  /** Sends held while disconnected before new ones fail with 804 (default 1,024). */
  maxHeldSends?: number;
}

/**
 * The default policy. The largest delay is 1 s (it was 5 s): an agent tries again at most 1 s
 * after the previous attempt failed, so after a hub restart every agent is back within about
 * a second of the hub listening, plus the hub's time to handshake them (bench "reconnect
 * storm": 1,000 agents within 3 s). No thundering herd: each delay is jittered into [half,
 * full) of its ceiling, so the attempts of agents that lost the hub at the same instant spread
 * over the window (at the ceiling, over 0.5-1 s; a hub with a capacity of 1,000 handshakes/s
 * keeps up with 1,000 agents arriving over it). While the hub is down an attempt is one refused
 * TCP connect, at most about 1-2 per agent per second. nats.js waits a fixed 2 s (+ up to 100 ms
 * of jitter) between rounds. Agents by the ten thousand on one hub should raise maxDelayMs.
 */
export const DEFAULT_RECONNECT = { initialDelayMs: 100, maxDelayMs: 1_000, maxAttempts: Number.POSITIVE_INFINITY, maxHeldSends: 1_024 } as const;

/** Delay before attempt n (1-based): min(max, initial * 2^(n-1)), times a random factor in [0.5, 1). */
export function backoffDelay(attempt: number, o: Required<ReconnectOptions>, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}
