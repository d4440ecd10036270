// First-key binding for names a peer protocol leaves unbound (keep's src, agentnet's
// account, a swarm member): the first key that proves itself for a name owns it; another
// key claiming it is refused. Bounded (maxNames, refusing new names when full) and, when a
// file is given, persisted as JSON (0600) so a restart does not free every name.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { constantTimeEqual, fromHex, toHex } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";

export const DEFAULT_MAX_BOUND_NAMES = 10_000;

export type BindResult = "new" | "same";

export class FirstKeyBindings {
  private readonly keys = new Map<string, Uint8Array>();
  readonly maxNames: number;

  constructor(private readonly opts: { file?: string; maxNames?: number } = {}) {
    this.maxNames = opts.maxNames ?? DEFAULT_MAX_BOUND_NAMES;
    if (opts.file && existsSync(opts.file)) {
      const saved = JSON.parse(readFileSync(opts.file, "utf8")) as Record<string, string>;
      for (const [name, hex] of Object.entries(saved)) this.keys.set(name, fromHex(hex));
    }
  }

  keyOf(name: string): Uint8Array | undefined {
    return this.keys.get(name);
  }

  /** "new" when name was free (now bound to key), "same" when already bound to key; 607 when bound to another key, 804 when full. */
  bind(name: string, key: Uint8Array): BindResult {
    const prior = this.keys.get(name);
    if (prior) {
      if (prior.length === key.length && constantTimeEqual(prior, key)) return "same";
      throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${name} is bound to another key`);
    }
    if (this.keys.size >= this.maxNames) throw new FleetError(ErrorCode.DELIVERY_BUSY, `bridge name table is full (${this.maxNames} names)`);
    this.keys.set(name, key.slice());
    this.save();
    return "new";
  }

  get size(): number {
    return this.keys.size;
  }

  private save(): void {
    if (!this.opts.file) return;
    const out: Record<string, string> = {};
    for (const [n, k] of this.keys) out[n] = toHex(k);
    const tmp = `${this.opts.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(out), { mode: 0o600 });
    renameSync(tmp, this.opts.file);
  }
}
