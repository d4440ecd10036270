// Per-call options shared by every FleetConnection: an AbortSignal on send, request and
// connect. A fired signal rejects the call with 903 CANCELLED (the signal's reason as cause).
import { ErrorCode, FleetError } from "../errors.js";

export interface CallOptions {
  signal?: AbortSignal;
}

export interface RequestOptions extends CallOptions {
  /** How long to wait for the answer (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** request(draft, 5000) and request(draft, { timeoutMs: 5000, signal }) both keep working. */
export function requestOptions(options: number | RequestOptions | undefined): { timeoutMs: number; signal?: AbortSignal } {
  if (typeof options === "number") return { timeoutMs: options };
  return { timeoutMs: options?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, signal: options?.signal };
}

export function abortError(signal: AbortSignal, what: string): FleetError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : reason === undefined ? "aborted" : String(reason);
  return new FleetError(ErrorCode.CANCELLED, `${what} cancelled: ${detail}`, { cause: reason });
}

/** Rejects with 903 as soon as signal fires; otherwise settles as work does. */
export function withSignal<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string, onAbort?: () => void): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    onAbort?.();
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(abortError(signal, what));
    };
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      (v) => (signal.removeEventListener("abort", abort), resolve(v)),
      (e) => (signal.removeEventListener("abort", abort), reject(e)),
    );
  });
}
