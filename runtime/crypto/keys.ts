// Who owns which key. A KeyResolver maps key ids to public keys and says whether an
// agent name is bound to a key id. PinnedKeys binds names on first use (TOFU) and only
// lets a KeyRotation signed by the old key (and proven by the new one) change a binding.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Envelope, KeyRotation } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { assertValidPublicKey, verifyEd25519 } from "./ed25519.js";
import { keyIdFor } from "./keyid.js";
import { Domain, pae, u64be } from "./pae.js";
import { isVerifiedEnvelope } from "./verified.js";

export interface KeyResolver {
  /** The public key for a key id, or undefined when unknown. */
  resolve(keyId: string): Uint8Array | undefined;
  /** Throws 607 unless agent is bound to keyId. */
  checkBinding(agent: string, keyId: string): void;
  /** The key id agent is bound to, if any (lets introductions detect a name already taken). */
  keyIdOf?(agent: string): string | undefined;
}

export interface PinnedKey {
  agent: string;
  keyId: string;
  publicKey: Uint8Array;
  /** Unix ms when the binding was made. */
  pinnedAt: number;
}

/** Persistence for pins (the hub keeps them in SQLite). */
export interface PinStore {
  load(): Iterable<PinnedKey>;
  /** Insert or replace the pin of pin.agent. */
  save(pin: PinnedKey): void;
}

export class PinnedKeys implements KeyResolver {
  private readonly byAgent = new Map<string, PinnedKey>();
  private readonly byKeyId = new Map<string, Uint8Array>();

  constructor(private readonly store?: PinStore, private readonly now: () => number = Date.now) {
    if (store) for (const pin of store.load()) this.remember(pin);
  }

  resolve(keyId: string): Uint8Array | undefined {
    return this.byKeyId.get(keyId);
  }

  checkBinding(agent: string, keyId: string): void {
    const pin = this.byAgent.get(agent);
    if (!pin) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `no key is pinned for ${agent}`, { pointer: "/sender" });
    if (pin.keyId !== keyId) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${agent} is pinned to ${pin.keyId}, not ${keyId}`, { pointer: "/security/keyId" });
  }

  keyIdOf(agent: string): string | undefined {
    return this.byAgent.get(agent)?.keyId;
  }

  /** Trust on first use: binds agent to publicKey; 607 if it is already bound to another key. */
  pin(agent: string, publicKey: Uint8Array): PinnedKey {
    assertValidPublicKey(publicKey);
    const keyId = keyIdFor(publicKey);
    const existing = this.byAgent.get(agent);
    if (existing) {
      if (existing.keyId === keyId) return existing;
      throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${agent} is already pinned to ${existing.keyId}`, { pointer: "/sender" });
    }
    return this.commit({ agent, keyId, publicKey: publicKey.slice(), pinnedAt: this.now() });
  }

  /**
   * Applies a KeyRotation. The envelope must have come out of openSignedEnvelope (so it was
   * signed by its sender's pinned key), be sent by the rotating agent with the old key, and
   * carry the new key's possession signature. Anything else: 607 (606 for a malformed key).
   */
  applyRotation(env: Envelope): PinnedKey {
    if (env.body?.kind.case !== "keyRotation") throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "not a key rotation", { pointer: "/body" });
    if (!isVerifiedEnvelope(env)) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "key rotation was not opened by openSignedEnvelope");
    const rot = env.body.kind.value;
    const current = this.byAgent.get(rot.agent);
    const signedBy = env.security?.keyId ?? "";
    if (env.sender !== rot.agent) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "a rotation must be sent by the rotating agent", { pointer: "/body/keyRotation/agent" });
    if (!current || current.keyId !== rot.oldKeyId || signedBy !== rot.oldKeyId) {
      throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "rotation is not signed by the currently pinned key", { pointer: "/body/keyRotation/oldKeyId" });
    }
    assertValidPublicKey(rot.newPublicKey);
    if (keyIdFor(rot.newPublicKey) !== rot.newKeyId) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "new_key_id does not match new_public_key", { pointer: "/body/keyRotation/newKeyId" });
    if (!verifyEd25519(rot.newPublicKey, rotationPossessionBytes(rot), rot.newKeySignature)) {
      throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "new key's possession signature is invalid", { pointer: "/body/keyRotation/newKeySignature" });
    }
    this.byKeyId.delete(current.keyId);
    return this.commit({ agent: rot.agent, keyId: rot.newKeyId, publicKey: rot.newPublicKey.slice(), pinnedAt: this.now() });
  }

  entries(): PinnedKey[] {
    return [...this.byAgent.values()];
  }

  /** Forgets an agent's pin in memory (its owner removes it from storage): the name may be pinned afresh. */
  unpin(agent: string): void {
    const pin = this.byAgent.get(agent);
    if (!pin) return;
    this.byAgent.delete(agent);
    this.byKeyId.delete(pin.keyId);
  }

  private remember(pin: PinnedKey): void {
    this.byAgent.set(pin.agent, pin);
    this.byKeyId.set(pin.keyId, pin.publicKey);
  }

  private commit(pin: PinnedKey): PinnedKey {
    this.store?.save(pin);
    this.remember(pin);
    return pin;
  }
}

/** The bytes the new key signs in a rotation: PAE("fleet.v1.key-rotation.new", agent, old, new, u64be(effective ms)). */
export function rotationPossessionBytes(rot: Pick<KeyRotation, "agent" | "oldKeyId" | "newKeyId" | "effectiveAt">): Uint8Array {
  const at = rot.effectiveAt ? timestampMs(rot.effectiveAt) : 0;
  return pae(Domain.keyRotationNew, rot.agent, rot.oldKeyId, rot.newKeyId, u64be(Math.max(0, at)));
}

/** A resolver over a fixed set of identities' public keys, bound to their names (tests, small fleets). */
export class StaticKeys implements KeyResolver {
  private readonly pins = new PinnedKeys();
  constructor(entries: Iterable<{ agent: string; publicKey: Uint8Array }> = []) {
    for (const e of entries) this.pins.pin(e.agent, e.publicKey);
  }
  add(agent: string, publicKey: Uint8Array): this {
    this.pins.pin(agent, publicKey);
    return this;
  }
  resolve(keyId: string) {
    return this.pins.resolve(keyId);
  }
  checkBinding(agent: string, keyId: string) {
    this.pins.checkBinding(agent, keyId);
  }
  keyIdOf(agent: string) {
    return this.pins.keyIdOf(agent);
  }
}
