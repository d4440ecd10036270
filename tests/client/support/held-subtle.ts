// WebCrypto with latencies the test decides: while an operation is held, each crypto.subtle
// call of that kind really runs (real Ed25519 underneath), but its result is handed back only
// when the test releases it, in whatever order the test chooses. With node:crypto hidden
// (setNodeCryptoDisabled) the runtime's async signing and verification go through here, as
// they do in a browser.
import { vi } from "vitest";

type Op = "sign" | "verify";

interface Held {
  op: Op;
  open: () => void;
  /** What the caller awaits: the real result, once opened. */
  out: Promise<unknown>;
}

export class HeldSubtle {
  readonly held: Held[] = [];
  private readonly holding = new Set<Op>();

  /** Wraps crypto.subtle.sign/verify (undone by vi.restoreAllMocks). */
  constructor() {
    const subtle = globalThis.crypto.subtle;
    for (const op of ["sign", "verify"] as const) {
      const original = subtle[op].bind(subtle) as (...a: unknown[]) => Promise<unknown>;
      vi.spyOn(subtle, op).mockImplementation(((...args: unknown[]) => {
        const real = original(...args);
        if (!this.holding.has(op)) return real;
        real.catch(() => {}); // the caller sees it through `out`
        let open!: () => void;
        const gate = new Promise<void>((r) => (open = r));
        const out = gate.then(() => real);
        this.held.push({ op, open, out });
        return out;
      }) as never);
    }
  }

  hold(op: Op): void {
    this.holding.add(op);
  }

  count(op: Op): number {
    return this.held.filter((h) => h.op === op).length;
  }

  /** Stops holding and opens every gate (teardown: a failed test must not leave a close() waiting forever). */
  releaseAll(): void {
    this.holding.clear();
    for (const h of this.held) h.open();
  }

  /** Releases the held calls of `op` at these positions (in call order), one after another, each to completion. */
  async release(op: Op, positions: number[]): Promise<void> {
    const ofOp = this.held.filter((h) => h.op === op);
    for (const i of positions) {
      ofOp[i].open();
      await ofOp[i].out.catch(() => {});
      await settle();
    }
  }
}

/** Lets every continuation already due run: microtasks and a few event-loop turns (no timers, no sleeping). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}
