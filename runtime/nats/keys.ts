// Key trust without a hub. On NATS nobody vouches for a sender, so a signed message
// carries its signer's public key (Fleet-Public-Key header). The key is self-certifying
// through the key id (a hash of it): it is used only to check the signature, and the
// sender's name is pinned to it on first use (trust: "tofu", the default), exactly as the
// hub pins on a first handshake. trust: "pinned" accepts only keys already pinned (601).
// A name already pinned to another key is refused (607); a rotation is the only way to change it.
import { keyIdFor, type KeyResolver, type PinnedKeys } from "../crypto/index.js";

export type TrustPolicy = "tofu" | "pinned";

/**
 * The resolver for one incoming message, given the key its sender announced (if any).
 * pin: false accepts a first-seen sender's announced key without pinning it yet (a key
 * rotation pins only what it ends with, and nothing when it is refused: rotation.ts).
 */
export function introducingResolver(keys: PinnedKeys, announced: Uint8Array | undefined, trust: TrustPolicy, pin = true): KeyResolver {
  const candidate = trust === "tofu" && announced ? announced : undefined;
  const candidateId = candidate ? keyIdFor(candidate) : undefined;
  // A key that is already pinned (to anyone) is never pinned to a second name.
  const introduces = (keyId: string) => candidateId === keyId && keys.resolve(keyId) === undefined;
  return {
    resolve: (keyId) => keys.resolve(keyId) ?? (introduces(keyId) ? candidate : undefined),
    checkBinding(agent, keyId) {
      // Called only after the signature verified: now the name may be bound to the new key.
      if (keys.keyIdOf(agent) === undefined && introduces(keyId)) {
        if (!pin) return;
        keys.pin(agent, candidate!);
      }
      keys.checkBinding(agent, keyId);
    },
    keyIdOf: (agent) => keys.keyIdOf(agent),
  };
}
