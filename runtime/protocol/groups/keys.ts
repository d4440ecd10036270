// Which key an agent signed group statements with, and when (spec/groups.md "Keys"): a key is
// valid from when it was bound until the rotation that replaced it. A statement dated at or
// after its key's retirement is refused (607), so a rotated-out key cannot add statements,
// while everything it signed before the rotation still verifies.
import { assertValidPublicKey } from "../../crypto/ed25519.js";
import { keyIdFor } from "../../crypto/keyid.js";
import type { KeyResolver } from "../../crypto/keys.js";
import { ErrorCode, FleetError } from "../../errors.js";

export interface GroupKey {
  agent: string;
  publicKey: Uint8Array;
  /** Unix ms from which the key signs for agent. */
  from: number;
  /** Unix ms of the rotation that retired it; absent while current. */
  until?: number;
}

/** Resolves a statement's key: the key id's owner and validity window. */
export interface GroupKeys {
  lookup(keyId: string): GroupKey | undefined;
}

/** Upper bound on keys held (each agent's current and retired keys). */
export const MAX_GROUP_KEYS = 65_536;

/** Key history built from pins and rotations (the registry's and FLEET_KEYS' order). */
export class KeyHistory implements GroupKeys {
  private readonly byKeyId = new Map<string, GroupKey>();
  private readonly current = new Map<string, string>();

  lookup(keyId: string): GroupKey | undefined {
    return this.byKeyId.get(keyId);
  }

  /** Binds agent's first key (valid from `from`). */
  add(agent: string, publicKey: Uint8Array, from = 0): this {
    if (this.current.has(agent)) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${agent} already has a key; rotate it instead`);
    this.put(agent, publicKey, from);
    return this;
  }

  /** Retires agent's current key at `at` and binds newPublicKey from then on. */
  rotate(agent: string, newPublicKey: Uint8Array, at: number): this {
    const old = this.current.get(agent);
    if (!old) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${agent} has no key to rotate`);
    this.byKeyId.get(old)!.until = at;
    this.put(agent, newPublicKey, at);
    return this;
  }

  private put(agent: string, publicKey: Uint8Array, from: number): void {
    assertValidPublicKey(publicKey);
    const keyId = keyIdFor(publicKey);
    if (this.byKeyId.has(keyId)) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `key ${keyId} is already bound`);
    if (this.byKeyId.size >= MAX_GROUP_KEYS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `key history is full (${MAX_GROUP_KEYS})`);
    this.byKeyId.set(keyId, { agent, publicKey: publicKey.slice(), from });
    this.current.set(agent, keyId);
  }
}

/** Current keys only, from a KeyResolver (pins without history): every key valid from 0. */
export function currentKeys(resolver: KeyResolver & { keyIdOf(agent: string): string | undefined }, agentOf: (keyId: string) => string | undefined): GroupKeys {
  return {
    lookup(keyId) {
      const agent = agentOf(keyId);
      const publicKey = resolver.resolve(keyId);
      if (!agent || !publicKey || resolver.keyIdOf(agent) !== keyId) return undefined;
      return { agent, publicKey, from: 0 };
    },
  };
}
