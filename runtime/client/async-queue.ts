// A bounded queue read as an async iterator: what `messages()` and `statuses()` hand out.
// Each has a documented limit; what happens when a reader falls that far behind is the
// owner's choice (`onOverflow`): end the iteration with a coded error, or drop the oldest.
import { ErrorCode, FleetError } from "../errors.js";

export type Overflow = "error" | "drop-oldest";

export interface AsyncQueueOptions {
  /** Items held for a reader that has not taken them yet. */
  limit: number;
  /** "error": the iterator yields what it holds, then throws 804; "drop-oldest": keeps the newest `limit`. */
  overflow: Overflow;
  /** Called once when the iterator ends (reader broke out, or the queue ended). */
  onEnd?: () => void;
}

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private failWaiting: ((e: unknown) => void) | undefined;
  private ended = false;
  private error: FleetError | undefined;
  private endReported = false;

  constructor(private readonly o: AsyncQueueOptions) {}

  get size(): number {
    return this.items.length;
  }

  /** False when the item could not be kept (the queue ended, or it overflowed with "error"). */
  push(item: T): boolean {
    if (this.ended || this.error) return false;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = undefined;
      w({ value: item, done: false });
      return true;
    }
    if (this.items.length >= this.o.limit) {
      if (this.o.overflow === "drop-oldest") {
        this.items.shift();
      } else {
        this.error = new FleetError(ErrorCode.DELIVERY_BUSY, `reader fell ${this.o.limit} items behind; the iteration ends here (nothing past this point was queued)`);
        return false;
      }
    }
    this.items.push(item);
    return true;
  }

  /** No more items: the reader gets what is held, then done (or error, if given). */
  end(error?: FleetError): void {
    if (this.ended) return;
    this.ended = true;
    if (error && !this.error) this.error = error;
    if (this.waiting && !this.items.length) {
      const w = this.waiting;
      const f = this.failWaiting!;
      this.waiting = this.failWaiting = undefined;
      if (this.error) f(this.error);
      else w({ value: undefined, done: true });
    }
    if (!this.items.length) this.reportEnd();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.error) {
      const e = this.error;
      this.finish();
      return Promise.reject(e);
    }
    if (this.ended) {
      this.reportEnd();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private reportEnd(): void {
    if (this.endReported) return;
    this.endReported = true;
    this.o.onEnd?.();
  }

  private finish(): void {
    this.ended = true;
    this.items.length = 0;
    this.error = undefined;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = undefined;
      w({ value: undefined, done: true });
    }
    this.reportEnd();
  }
}
