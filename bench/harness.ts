// Shared measuring helpers for `npm run bench`. Every figure is measured beside its
// anchor in the same run, so a ratio means something on a shared, noisy machine.

/** One measured figure. `anchor` names the row it is compared with, if any. */
export interface BenchRow {
  suite: string;
  name: string;
  /** Operations (or bytes, see unit) per second. */
  rate: number;
  unit: "ops/s" | "MB/s" | "msg/s";
  anchor?: string;
  /** rate / anchor rate, filled in by the runner. */
  ratio?: number;
  /** The goal for ratio (e.g. >= 0.9), printed beside it. */
  goal?: { min?: number; max?: number; on: "ratio" | "rate" };
  extra?: Record<string, number | string>;
}

export interface BenchSuite {
  name: string;
  /** Returns rows; may skip (return []) when a dependency such as nats-server is missing. */
  run(): Promise<BenchRow[]>;
}

/**
 * Calls fn in batches until at least minMs have passed (bounded by maxIterations),
 * after a short warm-up, and returns operations per second.
 */
export function opsPerSecond(fn: () => void, options: { minMs?: number; batch?: number; maxIterations?: number } = {}): number {
  const minMs = options.minMs ?? 700;
  const batch = options.batch ?? 100;
  const maxIterations = options.maxIterations ?? 5_000_000;
  for (let i = 0; i < batch; i++) fn();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs && n < maxIterations) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

/** The async twin of opsPerSecond, for APIs that return promises. */
export async function opsPerSecondAsync(fn: () => Promise<unknown>, options: { minMs?: number; batch?: number; maxIterations?: number } = {}): Promise<number> {
  const minMs = options.minMs ?? 700;
  const batch = options.batch ?? 50;
  const maxIterations = options.maxIterations ?? 1_000_000;
  for (let i = 0; i < batch; i++) await fn();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs && n < maxIterations) {
    for (let i = 0; i < batch; i++) await fn();
    n += batch;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

/**
 * Measures a and b alternately (rounds of each) so drift in machine load hits both,
 * and returns the median rate of each.
 */
export function compare(a: () => void, b: () => void, rounds = 5, minMs = 250): [number, number] {
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < rounds; i++) {
    ra.push(opsPerSecond(a, { minMs }));
    rb.push(opsPerSecond(b, { minMs }));
  }
  return [median(ra), median(rb)];
}

export function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** p-th percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
