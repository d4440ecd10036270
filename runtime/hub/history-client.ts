// The hub's handle on its history (history.ts), which lives in a worker thread
// (history-worker.ts): recording costs the hub's event loop one postMessage per batch, never
// a SQLite write. Bounded: at most MAX_UNRECORDED records posted and not yet written; beyond
// that new records are dropped and counted (history is best effort; messages never are).
// Queries (threads, thread) are answered asynchronously by the worker.
import { Worker } from "node:worker_threads";
import { ErrorCode, FleetError } from "../errors.js";
import { HISTORY_DEFAULTS, type HistoryMessage, type HistoryOptions, type HistoryRecord, type ThreadSummary } from "./history.js";

export const MAX_UNRECORDED = 50_000;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: FleetError) => void;
}

export class HistoryClient {
  readonly enabled: boolean;
  /** Records dropped because the writer fell MAX_UNRECORDED behind (or failed). */
  dropped = 0;
  private worker?: Worker;
  private batch: HistoryRecord[] = [];
  private scheduled = false;
  private unrecorded = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failed?: FleetError;
  private closing?: Promise<void>;

  constructor(private readonly dir: string, private readonly options: HistoryOptions = {}, private readonly log: (line: string) => void = () => {}) {
    const max = options.maxMessages ?? HISTORY_DEFAULTS.maxMessages;
    if (!Number.isInteger(max) || max < 0) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "history maxMessages must be a non-negative integer");
    if (options.maxAgeMs !== undefined && !(options.maxAgeMs > 0)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "history maxAgeMs must be positive");
    this.enabled = max > 0;
  }

  /** The worker starts with the first record or query, so a hub that routes nothing never starts it. */
  private start(): Worker | undefined {
    if (this.worker || this.failed || this.closing) return this.worker;
    const fromSources = import.meta.url.endsWith(".ts");
    const w = new Worker(new URL(fromSources ? "./history-worker-tsx.mjs" : "./history-worker.js", import.meta.url), { workerData: { dir: this.dir, options: this.options } });
    w.unref();
    w.on("message", (m: { type: string; n?: number; id?: number; result?: unknown; error?: { code: ErrorCode; message: string; pointer: string } }) => {
      if (m.type === "recorded") this.unrecorded -= m.n ?? 0;
      else if (m.type === "result") {
        const p = this.pending.get(m.id!);
        this.pending.delete(m.id!);
        if (m.error) p?.reject(new FleetError(m.error.code, m.error.message, { pointer: m.error.pointer }));
        else p?.resolve(m.result);
      }
    });
    w.on("error", (e) => this.fail(new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `history writer failed: ${e.message}`, { cause: e })));
    w.on("exit", () => this.fail(new FleetError(ErrorCode.DELIVERY_STORE_FAILED, "history writer stopped")));
    this.worker = w;
    return w;
  }

  private fail(e: FleetError): void {
    if (!this.failed && !this.closing) this.log(e.message);
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Queues one routed message; posted to the writer at the end of this turn. */
  record(r: HistoryRecord): void {
    if (!this.enabled || this.failed || this.closing) return;
    if (this.unrecorded + this.batch.length >= MAX_UNRECORDED) {
      this.dropped++;
      return;
    }
    this.batch.push(r);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.post());
    }
  }

  private post(): void {
    this.scheduled = false;
    if (!this.batch.length) return;
    const w = this.start();
    const records = this.batch;
    this.batch = [];
    if (!w) return;
    this.unrecorded += records.length;
    w.postMessage({ type: "record", records });
  }

  private query<T>(q: Record<string, unknown>): Promise<T> {
    if (!this.enabled) return Promise.reject(new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, "this hub keeps no history (started with --history-max 0)"));
    this.post(); // what was routed before the question is part of the answer
    const w = this.start();
    if (!w) return Promise.reject(this.failed ?? new FleetError(ErrorCode.DELIVERY_STORE_FAILED, "history is closed"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ type: "query", id, ...q });
    });
  }

  threads(agent: string, limit = 50): Promise<ThreadSummary[]> {
    return this.query({ op: "threads", agent, limit });
  }

  thread(agent: string, threadId: string, o: { limit?: number; before?: number } = {}): Promise<{ thread_id: string; messages: HistoryMessage[]; more: boolean }> {
    return this.query({ op: "thread", agent, threadId, limit: o.limit, before: o.before });
  }

  /** Messages kept (after everything recorded so far). */
  size(): Promise<number> {
    return this.query({ op: "size" });
  }

  /** Age expiry and orphan removal (the hub's maintenance, once a minute). */
  sweep(): void {
    if (this.enabled && this.worker) void this.query({ op: "sweep" }).catch(() => {});
  }

  /** Writes what is queued, then stops the writer. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const w = this.worker;
      if (!w) return;
      const records = this.batch;
      this.batch = [];
      if (records.length && !this.failed) w.postMessage({ type: "record", records });
      if (!this.failed) {
        await new Promise<void>((resolve) => {
          const done = (m: { type: string }) => {
            if (m.type !== "closed") return;
            w.off("message", done);
            resolve();
          };
          w.on("message", done);
          w.once("exit", () => resolve());
          w.postMessage({ type: "close" });
        });
      }
      await w.terminate();
    })();
    return this.closing;
  }
}
