// Opening envelopes whose signer may be new to us but introduces its own key in the body
// (discovery beacons): the key must hash to the signature's key id, the signature is
// checked with it by openSignedEnvelope, and a name already pinned to another key is refused.
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock } from "../clock.js";
import { keyIdFor, type KeyResolver, openSignedEnvelope, openSignedEnvelopeAsync } from "../crypto/index.js";
import { parseEnvelope } from "../crypto/envelope-bytes.js";
import { ErrorCode, FleetError } from "../errors.js";

/** A resolver that also knows one self-certified key, without pinning it. */
export function withIntroducedKey(base: KeyResolver, keyId: string, publicKey: Uint8Array, deferBinding = false): KeyResolver {
  return {
    resolve: (id) => base.resolve(id) ?? (id === keyId ? publicKey : undefined),
    checkBinding(agent, id) {
      const bound = base.keyIdOf?.(agent);
      // deferBinding: the caller checks the name itself, to answer a mismatch (handshake reject).
      if ((bound === undefined || deferBinding) && id === keyId) return;
      base.checkBinding(agent, id);
    },
    keyIdOf: (agent) => base.keyIdOf?.(agent),
    revoked: (id) => base.revoked?.(id),
  };
}

export function openSelfCertified(signed: SignedEnvelope, keys: KeyResolver, introducedKey: (env: Envelope) => Uint8Array | undefined, clock?: Clock, deferBinding = false): Envelope {
  return openSignedEnvelope(signed, { keys: selfCertifiedKeys(signed, keys, introducedKey, deferBinding), clock });
}

/** openSelfCertified with the async verifier (WebCrypto Ed25519 in browsers). */
export async function openSelfCertifiedAsync(signed: SignedEnvelope, keys: KeyResolver, introducedKey: (env: Envelope) => Uint8Array | undefined, clock?: Clock, deferBinding = false): Promise<Envelope> {
  return openSignedEnvelopeAsync(signed, { keys: selfCertifiedKeys(signed, keys, introducedKey, deferBinding), clock });
}

// The resolver to verify with: the caller's when it knows the signer, else one that adds the
// key the body introduces, provided it hashes to the signature's key id.
function selfCertifiedKeys(signed: SignedEnvelope, keys: KeyResolver, introducedKey: (env: Envelope) => Uint8Array | undefined, deferBinding: boolean): KeyResolver {
  const keyId = signed?.signature?.keyId ?? "";
  if (keys.resolve(keyId)) return keys;
  // A revoked key may still introduce itself here, so that the handshake can answer it with
  // a HelloReject (611); it is never pinned again (PinnedKeys.pin refuses it).
  let candidate: Uint8Array | undefined;
  try {
    // Only to find the candidate key; nothing from this parse is trusted.
    candidate = introducedKey(parseEnvelope(signed.payload, signed.payloadType));
  } catch {
    candidate = undefined;
  }
  if (!candidate || candidate.length !== 32 || keyIdFor(candidate) !== keyId) {
    throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `unknown signer key ${keyId}`, { pointer: "/signature/keyId" });
  }
  return withIntroducedKey(keys, keyId, candidate, deferBinding);
}
