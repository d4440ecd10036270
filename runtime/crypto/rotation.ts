// Building a KeyRotation statement: the new key proves possession over
// PAE("fleet.v1.key-rotation.new", agent, old_key_id, new_key_id, u64be(effective_at ms));
// the envelope carrying it must then be signed by the old key (signEnvelope(env, oldIdentity)).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { KeyRevocationSchema, KeyRotationSchema, type KeyRevocation, type KeyRotation } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { Identity } from "./identity.js";
import { rotationPossessionBytes } from "./keys.js";

export function createKeyRotation(oldIdentity: Identity, newIdentity: Identity, effectiveAtMs: number): KeyRotation {
  if (oldIdentity.agent !== newIdentity.agent) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "old and new identity must have the same agent name");
  const rot = create(KeyRotationSchema, {
    agent: oldIdentity.agent,
    oldKeyId: oldIdentity.keyId,
    newPublicKey: newIdentity.publicKey.slice(),
    newKeyId: newIdentity.keyId,
    effectiveAt: timestampFromMs(effectiveAtMs),
  });
  rot.newKeySignature = newIdentity.sign(rotationPossessionBytes(rot));
  return rot;
}

/**
 * A KeyRevocation of identity's own key (spec/signing.md "Revocation"); the envelope carrying
 * it must be signed by that same key. effectiveAtMs: the earliest time the key may have been
 * compromised (not after the envelope's created_at).
 */
export function createKeyRevocation(identity: Identity, effectiveAtMs: number, reason = ""): KeyRevocation {
  return create(KeyRevocationSchema, { agent: identity.agent, revokedKeyId: identity.keyId, effectiveAt: timestampFromMs(effectiveAtMs), reason });
}
