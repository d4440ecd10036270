// An init script that records every crypto.subtle call the page makes (operation, algorithm
// name, and whether it succeeded) in window.subtleCalls, optionally making some algorithms
// unavailable (NotSupportedError, as browsers without Ed25519/X25519 in WebCrypto answer).
// It runs before the page's own scripts, so the runtime's feature probes are seen too.

export interface SubtleCall {
  op: string;
  alg: string;
  /** null while pending, then whether the call resolved. */
  ok: boolean | null;
}

declare global {
  interface Window {
    subtleCalls: SubtleCall[];
  }
}

/** Runs in the page (stringified into the init script): wraps SubtleCrypto.prototype. */
function instrumentSubtle(unsupported: string[]): void {
  const calls: SubtleCall[] = [];
  window.subtleCalls = calls;
  const proto = SubtleCrypto.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  // Where each operation takes its algorithm argument.
  const algorithmAt: Record<string, number> = { sign: 0, verify: 0, deriveBits: 0, generateKey: 0, digest: 0, importKey: 2 };
  for (const [op, at] of Object.entries(algorithmAt)) {
    const original = proto[op];
    proto[op] = function (this: SubtleCrypto, ...args: unknown[]) {
      const a = args[at] as string | { name?: string } | undefined;
      const call: SubtleCall = { op, alg: typeof a === "string" ? a : String(a?.name ?? "?"), ok: null };
      calls.push(call);
      if (unsupported.includes(call.alg.toLowerCase())) {
        call.ok = false;
        return Promise.reject(new DOMException(`Unrecognized name: ${call.alg}`, "NotSupportedError"));
      }
      return original.apply(this, args).then(
        (r) => {
          call.ok = true;
          return r;
        },
        (e: unknown) => {
          call.ok = false;
          throw e;
        },
      );
    };
  }
}

/** The init script: record subtle calls; algorithms named in `unsupported` reject. */
export function subtleLogScript(unsupported: string[] = []): string {
  return `(${instrumentSubtle.toString()})(${JSON.stringify(unsupported.map((a) => a.toLowerCase()))});`;
}

/** "op:alg" -> count, for the calls that succeeded (ok) or failed (!ok). */
export function tally(calls: SubtleCall[], ok: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) if (c.ok === ok) out[`${c.op}:${c.alg}`] = (out[`${c.op}:${c.alg}`] ?? 0) + 1;
  return out;
}
