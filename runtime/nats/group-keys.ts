// Which key signed for which agent, and when, for folding group chains on NATS (spec/groups.md
// "Keys", "On NATS"). There is no hub: an agent's current key is the one this connection pins
// (trust on first use from the Fleet-Public-Key header, or given), and the keys it held before
// come from the KeyRotations in FLEET_KEYS (rotation.ts), each valid until its rotation's
// effective_at. A key rotated out signs nothing after that; what it signed before still folds.
import { keyIdFor, type PinnedKeys } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { MAX_GROUP_KEYS, type GroupKey, type GroupKeys } from "../protocol/groups/index.js";
import type { TrustPolicy } from "./keys.js";
import type { RetiredKey } from "./rotation.js";

/** The keys one statement is judged with; commit() pins a first-seen signer once its statement verified. */
export interface StatementKeys extends GroupKeys {
  commit(): void;
}

export class NatsGroupKeys {
  /** Keys rotated out, by key id (bounded by MAX_GROUP_KEYS, spec/groups.md "Bounds"). */
  private readonly retired = new Map<string, GroupKey>();
  /** When each current key began to sign (its rotation's effective_at); absent: from the start. */
  private readonly since = new Map<string, number>();

  constructor(
    private readonly pins: PinnedKeys,
    private readonly trust: TrustPolicy,
  ) {}

  /** Records that agent's key moved from retired.publicKey to newKeyId at retired.at. */
  retire(r: RetiredKey, newKeyId: string): void {
    const oldKeyId = keyIdFor(r.publicKey);
    if (this.retired.has(oldKeyId)) return; // our own rotation, read back from FLEET_KEYS
    if (this.retired.size + this.since.size >= MAX_GROUP_KEYS) {
      throw new FleetError(ErrorCode.DELIVERY_BUSY, `group key history is full (${MAX_GROUP_KEYS})`);
    }
    this.retired.set(oldKeyId, { agent: r.agent, publicKey: r.publicKey.slice(), from: this.since.get(oldKeyId) ?? 0, until: r.at });
    this.since.delete(oldKeyId);
    this.since.set(newKeyId, r.at);
  }

  /** A pinned key's owner: the hinted agent when it holds keyId, else a search of the pins. */
  private current(keyId: string, hint: string): GroupKey | undefined {
    const publicKey = this.pins.resolve(keyId);
    if (!publicKey) return undefined;
    const agent = this.pins.keyIdOf(hint) === keyId ? hint : this.pins.entries().find((p) => p.keyId === keyId)?.agent;
    return agent === undefined ? undefined : { agent, publicKey, from: this.since.get(keyId) ?? 0 };
  }

  /**
   * The resolver for one stored statement: `signer` is what the statement says (unverified: the
   * fold checks it is the key's agent), `announced` the key its publisher put in Fleet-Public-Key.
   * With trust "tofu" a signer nobody is pinned for may introduce that key, as with envelopes.
   */
  forStatement(signer: string, announced: Uint8Array | undefined): StatementKeys {
    const introduced =
      this.trust === "tofu" && announced && announced.length === 32 && this.pins.keyIdOf(signer) === undefined && !this.pins.wasRevoked(signer)
        ? { keyId: keyIdFor(announced), publicKey: announced }
        : undefined;
    const offered = introduced && this.pins.resolve(introduced.keyId) === undefined && !this.pins.revoked(introduced.keyId) ? introduced : undefined;
    let used = false;
    return {
      lookup: (keyId) => {
        const known = this.retired.get(keyId) ?? this.current(keyId, signer);
        if (known) return known;
        if (offered?.keyId !== keyId) return undefined;
        used = true;
        return { agent: signer, publicKey: offered.publicKey, from: 0 };
      },
      commit: () => {
        if (used && offered && this.pins.keyIdOf(signer) === undefined) this.pins.pin(signer, offered.publicKey);
      },
    };
  }
}
