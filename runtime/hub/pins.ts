// The hub's pinned keys (TOFU, spec/signing.md) over its SQLite store, and the pin a
// handshake takes. The responder pins the initiator's key at the Confirm; the hub holds
// that pin back (HandshakeKeys) and writes it in the same transaction as the agent's
// registry entry (admission.ts), so a new agent costs one commit (one fsync), and a
// failed write leaves neither behind. The pin enters memory only once that commit is done.
import { keyIdFor, type KeyResolver, PinnedKeys, type PinStore, type RevokedKey } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { HubStore } from "./store.js";

/** PinnedKeys over the store, able to adopt a pin its caller already committed. */
export class StorePins extends PinnedKeys {
  private readonly backing: StorePinStore;

  constructor(store: HubStore, now: () => number) {
    const backing = new StorePinStore(store);
    super(backing, now);
    this.backing = backing;
  }

  /** Pins agent to publicKey in memory only: the caller wrote the same pin (putPin) in a transaction that committed. */
  adopt(agent: string, publicKey: Uint8Array): void {
    this.backing.committed = `${agent}\u0000${keyIdFor(publicKey)}`;
    try {
      this.pin(agent, publicKey);
    } finally {
      this.backing.committed = undefined;
    }
  }
}

class StorePinStore implements PinStore {
  /** agent + key id of a pin already durable (StorePins.adopt): not written again. */
  committed: string | undefined;

  constructor(private readonly store: HubStore) {}

  load() {
    return this.store.pins().map((p) => ({ agent: p.agent, keyId: keyIdFor(p.publicKey), publicKey: p.publicKey, pinnedAt: 0 }));
  }

  save(pin: { agent: string; keyId: string; publicKey: Uint8Array }): void {
    if (this.committed === `${pin.agent}\u0000${pin.keyId}`) return;
    this.store.putPin(pin.agent, pin.publicKey);
  }

  loadRevoked(): RevokedKey[] {
    return this.store.revokedKeys();
  }

  /** The revocation and the end of the agent's pin, in one transaction (durable before anyone is told). */
  revoke(r: RevokedKey): void {
    this.store.revokeKey(r);
  }
}

/**
 * The key resolver a connection's HandshakeResponder sees: the hub's pins, except that the
 * Confirm's TOFU pin is checked (607 for a name bound to another key)
 * and held in `pending` for the hub to commit, instead of being written on its own.
 */
export class HandshakeKeys implements KeyResolver {
  pending: { agent: string; publicKey: Uint8Array } | undefined;

  constructor(private readonly pins: PinnedKeys) {}

  resolve(keyId: string): Uint8Array | undefined {
    return this.pins.resolve(keyId);
  }

  checkBinding(agent: string, keyId: string): void {
    this.pins.checkBinding(agent, keyId);
  }

  keyIdOf(agent: string): string | undefined {
    return this.pins.keyIdOf(agent);
  }

  revoked(keyId: string) {
    return this.pins.revoked(keyId);
  }

  // No curve-point check here: the Confirm was just verified with this key (which checks it),
  // and StorePins.adopt -> PinnedKeys.pin checks it again before it enters memory.
  pin(agent: string, publicKey: Uint8Array): void {
    const keyId = keyIdFor(publicKey);
    if (this.pins.revoked(keyId)) throw new FleetError(ErrorCode.SECURITY_KEY_REVOKED, `${keyId} was revoked by its owner`, { pointer: "/security/keyId" });
    const bound = this.pins.keyIdOf(agent);
    if (bound === keyId) return;
    if (bound !== undefined) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${agent} is already pinned to ${bound}`, { pointer: "/sender" });
    this.pending = { agent, publicKey: publicKey.slice() };
  }
}
