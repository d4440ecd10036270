// Time as a dependency: every state machine takes a Clock, so tests drive time
// with FakeClock instead of sleeping, and production uses systemClock.

export type TimerId = number;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls fn once after ms; returns an id for clearTimer. */
  setTimer(fn: () => void, ms: number): TimerId;
  clearTimer(id: TimerId): void;
}

const realTimers = new Map<TimerId, ReturnType<typeof setTimeout>>();
let nextRealId = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const id = nextRealId++;
    const handle = setTimeout(() => {
      realTimers.delete(id);
      fn();
    }, ms);
    // Timers must not keep a CLI process alive on their own.
    (handle as { unref?: () => void }).unref?.();
    realTimers.set(id, handle);
    return id;
  },
  clearTimer(id) {
    const handle = realTimers.get(id);
    if (handle !== undefined) clearTimeout(handle);
    realTimers.delete(id);
  },
};

/** A clock that only moves when told to; timers fire in due order during advance(). */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<TimerId, { at: number; fn: () => void }>();

  constructor(startMs = Date.UTC(2026, 10, 20, 12, 0, 0)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerId {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimer(id: TimerId): void {
    this.timers.delete(id);
  }

  /** Moves time forward by ms, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let dueId: TimerId | undefined;
      let dueAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= target && (t.at < dueAt || (t.at === dueAt && id < (dueId ?? Infinity)))) {
          dueId = id;
          dueAt = t.at;
        }
      }
      if (dueId === undefined) break;
      const timer = this.timers.get(dueId)!;
      this.timers.delete(dueId);
      this.current = Math.max(this.current, timer.at);
      timer.fn();
    }
    this.current = target;
  }

  /** Number of timers still pending (for tests that check cleanup). */
  get pendingTimers(): number {
    return this.timers.size;
  }
}
