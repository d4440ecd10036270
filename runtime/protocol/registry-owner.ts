// Owner-only registry writes (spec/registry.md "Owners"): every replicated entry names its
// owner (agent/X and health/X: X; service/S: the record's agent_id, or for a tombstone the
// writing node), is written at the owner's own replica (version.node = owner, one causal
// counter: the owner's) and carries the owner's Ed25519 signature over
// PAE("fleet.v1.registry.owner", entry_hash), by the key bound to the owner's name.
import { create } from "@bufbuild/protobuf";
import type { RegistryEntry } from "../../generated/proto/fleet/v1/registry_pb.js";
import { SignatureScheme, SignatureSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { ED25519_SIG_BYTES, verifyEd25519 } from "../crypto/ed25519.js";
import type { Identity } from "../crypto/identity.js";
import type { KeyResolver } from "../crypto/keys.js";
import { Domain, pae } from "../crypto/pae.js";
import { ErrorCode, FleetError } from "../errors.js";
import { entryHash } from "./registry-digest.js";
import { MAX_CAUSAL_COUNT, parseRegistryKey } from "./registry-validate.js";

export { MAX_CAUSAL_COUNT };

/** Who may write the entry: agent/X and health/X -> X; service/S -> its record's agent_id (a tombstone: its writer). */
export function registryOwner(entry: RegistryEntry): string {
  const key = parseRegistryKey(entry.key);
  if (key?.kind === "agent" || key?.kind === "health") return key.id;
  if (entry.record.case === "service") return entry.record.value.agentId;
  return entry.version?.node ?? "";
}

export function ownerSigningBytes(entry: RegistryEntry): Uint8Array {
  return pae(Domain.registryOwner, entryHash(entry));
}

/** Sets entry.ownerSignature with the owner's identity (the entry must be complete: key, version, record, causal). */
export function signRegistryEntry(entry: RegistryEntry, owner: Identity): RegistryEntry {
  entry.ownerSignature = create(SignatureSchema, { scheme: SignatureScheme.ED25519, keyId: owner.keyId, sig: owner.sign(ownerSigningBytes(entry)) });
  return entry;
}

/**
 * Throws unless the entry was written by its owner: 603 when version.node or a causal
 * counter names another node, 709 for a count outside 1..2^32 or not exactly one counter,
 * 601 for a missing or invalid signature or an unknown key, 611 for a revoked key, 607 for a key not bound to the owner.
 */
export function verifyRegistryOwner(entry: RegistryEntry, keys: KeyResolver, pointer = ""): string {
  const owner = registryOwner(entry);
  if (!owner || entry.version?.node !== owner) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${entry.key} belongs to ${owner || "nobody"}, and was written by ${entry.version?.node ?? "nobody"}`, { pointer: `${pointer}/version/node` });
  if (entry.causal.length !== 1) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "a replicated entry carries exactly one causal counter, its owner's", { pointer: `${pointer}/causal` });
  const c = entry.causal[0];
  if (c.node !== owner) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `only ${owner} counts writes to ${entry.key}`, { pointer: `${pointer}/causal/0/node` });
  if (c.count < 1n || c.count > MAX_CAUSAL_COUNT) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `causal count must be 1..${MAX_CAUSAL_COUNT}`, { pointer: `${pointer}/causal/0/count` });
  const sig = entry.ownerSignature;
  if (!sig || sig.scheme !== SignatureScheme.ED25519 || sig.sig.length !== ED25519_SIG_BYTES) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `${entry.key} carries no owner signature`, { pointer: `${pointer}/ownerSignature` });
  if (keys.revoked?.(sig.keyId)) throw new FleetError(ErrorCode.SECURITY_KEY_REVOKED, `owner key ${sig.keyId} was revoked`, { pointer: `${pointer}/ownerSignature/keyId` });
  const publicKey = keys.resolve(sig.keyId);
  if (!publicKey) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `unknown owner key ${sig.keyId}`, { pointer: `${pointer}/ownerSignature/keyId` });
  if (!verifyEd25519(publicKey, ownerSigningBytes(entry), sig.sig)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `owner signature of ${entry.key} does not verify`, { pointer: `${pointer}/ownerSignature/sig` });
  try {
    keys.checkBinding(owner, sig.keyId);
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${sig.keyId} is not ${owner}'s key`, { pointer: `${pointer}/ownerSignature/keyId`, cause: e });
  }
  return owner;
}
