// Envelope signatures (spec/signing.md): sign PAE("fleet.v1.envelope", payload_type, payload)
// over the exact serialized bytes; verify those bytes before parsing anything.
import { create } from "@bufbuild/protobuf";
import { SecuritySchema, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { SignatureScheme, SignatureSchema, SignedEnvelopeSchema, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";
import { constantTimeEqual, randomBytes } from "./bytes.js";
import { ED25519_SIG_BYTES, verifyEd25519, verifyEd25519Async } from "./ed25519.js";
import { ENVELOPE_JSON, ENVELOPE_PROTO, parseEnvelope, serializeEnvelope } from "./envelope-bytes.js";
import { HMAC_SIG_BYTES, hmacSha256, sharedSecretKeyId } from "./hmac.js";
import type { Identity } from "./identity.js";
import { keyIdFor } from "./keyid.js";
import type { KeyResolver } from "./keys.js";
import { Domain, pae } from "./pae.js";
import { checkFreshness, type ReplayGuard } from "./replay.js";
import { markVerified } from "./verified.js";

export const NONCE_BYTES = 16;

export interface VerifyContext {
  keys: KeyResolver;
  /** Skew, expiry and seen-id checks (recommended). Without it, `clock` alone gives skew and expiry. */
  replay?: ReplayGuard;
  clock?: Clock;
  /** HMAC mode: shared secrets by key id ("hmac:..."). Without it, HMAC signatures are refused. */
  sharedSecrets?: Map<string, Uint8Array>;
  /**
   * Accept a signer the resolver does not know when the envelope is a Hello or Welcome whose
   * identity_public_key hashes to the signature's key id (a self-certifying introduction).
   * The caller decides whether to pin the key afterwards. Off by default.
   */
  allowIntroduction?: boolean;
}

/** The bytes an envelope signature covers. */
export function envelopeSigningBytes(payloadType: string, payload: Uint8Array): Uint8Array {
  return pae(Domain.envelope, payloadType, payload);
}

function prepareSecurity(env: Envelope, keyId: string): void {
  env.security ??= create(SecuritySchema);
  if (env.security.keyId && env.security.keyId !== keyId) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `envelope names key ${env.security.keyId}, signer is ${keyId}`, { pointer: "/security/keyId" });
  }
  env.security.keyId = keyId;
  if (env.security.nonce.length === 0) env.security.nonce = randomBytes(NONCE_BYTES);
}

function payloadTypeOf(opts?: { payloadType?: "proto" | "json" }): string {
  return opts?.payloadType === "json" ? ENVELOPE_JSON : ENVELOPE_PROTO;
}

/** Fills security.key_id (and a fresh 16-byte nonce when absent), serializes, signs. */
export function signEnvelope(env: Envelope, signer: Identity, opts?: { payloadType?: "proto" | "json" }): SignedEnvelope {
  prepareSecurity(env, signer.keyId);
  const payloadType = payloadTypeOf(opts);
  const payload = serializeEnvelope(env, payloadType);
  const sig = signer.sign(envelopeSigningBytes(payloadType, payload));
  return create(SignedEnvelopeSchema, {
    payloadType,
    payload,
    signature: create(SignatureSchema, { scheme: SignatureScheme.ED25519, keyId: signer.keyId, sig }),
  });
}

/** signEnvelope with the async signer (WebCrypto in browsers). */
export async function signEnvelopeAsync(env: Envelope, signer: Identity, opts?: { payloadType?: "proto" | "json" }): Promise<SignedEnvelope> {
  prepareSecurity(env, signer.keyId);
  const payloadType = payloadTypeOf(opts);
  const payload = serializeEnvelope(env, payloadType);
  const sig = await signer.signAsync(envelopeSigningBytes(payloadType, payload));
  return create(SignedEnvelopeSchema, {
    payloadType,
    payload,
    signature: create(SignatureSchema, { scheme: SignatureScheme.ED25519, keyId: signer.keyId, sig }),
  });
}

/** Shared-secret HMAC mode (weaker: every holder of the secret can forge any sender). */
export function signEnvelopeHmac(env: Envelope, secret: Uint8Array, opts?: { payloadType?: "proto" | "json" }): SignedEnvelope {
  const keyId = sharedSecretKeyId(secret);
  prepareSecurity(env, keyId);
  const payloadType = payloadTypeOf(opts);
  const payload = serializeEnvelope(env, payloadType);
  const sig = hmacSha256(secret, envelopeSigningBytes(payloadType, payload));
  return create(SignedEnvelopeSchema, {
    payloadType,
    payload,
    signature: create(SignatureSchema, { scheme: SignatureScheme.HMAC_SHA256, keyId, sig }),
  });
}

const bad = (message: string, pointer = "/signature") => new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, message, { pointer });

/**
 * Verifies, then parses, then checks binding and freshness. Throws FleetError:
 * 601 bad/unknown signature, 710 unknown payload type, 701/705 malformed payload,
 * 607 key/name mismatch, 605 skew, 602 expired, 604 replay.
 */
export function openSignedEnvelope(signed: SignedEnvelope, ctx: VerifyContext): Envelope {
  const plan = planVerification(signed, ctx);
  if (plan.publicKey && !verifyEd25519(plan.publicKey, plan.bytes, plan.sig)) throw bad("signature does not verify", "/signature/sig");
  return finish(signed, ctx, plan);
}

/** openSignedEnvelope with the async verifier: WebCrypto Ed25519 in browsers, node:crypto on Node. */
export async function openSignedEnvelopeAsync(signed: SignedEnvelope, ctx: VerifyContext): Promise<Envelope> {
  const plan = planVerification(signed, ctx);
  if (plan.publicKey && !(await verifyEd25519Async(plan.publicKey, plan.bytes, plan.sig))) throw bad("signature does not verify", "/signature/sig");
  return finish(signed, ctx, plan);
}

interface Plan {
  scheme: SignatureScheme;
  keyId: string;
  sig: Uint8Array;
  bytes: Uint8Array;
  /** The Ed25519 key to verify with; undefined for HMAC (already checked) and introductions. */
  publicKey?: Uint8Array;
  introduction?: boolean;
}

// Every check that needs no public-key operation: shapes, key lookup, and the HMAC itself.
function planVerification(signed: SignedEnvelope, ctx: VerifyContext): Plan {
  const sigMsg = signed?.signature;
  if (!sigMsg || !(signed.payload instanceof Uint8Array) || typeof signed.payloadType !== "string" || !(sigMsg.sig instanceof Uint8Array)) {
    throw bad("missing signature or payload");
  }
  const { scheme, keyId, sig } = sigMsg;
  const bytes = envelopeSigningBytes(signed.payloadType, signed.payload);
  if (scheme === SignatureScheme.ED25519) {
    if (sig.length !== ED25519_SIG_BYTES) throw bad(`Ed25519 signature must be ${ED25519_SIG_BYTES} bytes, got ${sig.length}`, "/signature/sig");
    const publicKey = ctx.keys.resolve(keyId);
    if (publicKey) return { scheme, keyId, sig, bytes, publicKey };
    if (ctx.keys.revoked?.(keyId)) throw new FleetError(ErrorCode.SECURITY_KEY_REVOKED, `signer key ${keyId} was revoked by its owner`, { pointer: "/signature/keyId" });
    if (!ctx.allowIntroduction) throw bad(`unknown signer key ${keyId}`, "/signature/keyId");
    return { scheme, keyId, sig, bytes, introduction: true };
  }
  if (scheme === SignatureScheme.HMAC_SHA256) {
    if (sig.length !== HMAC_SIG_BYTES) throw bad(`HMAC-SHA256 signature must be ${HMAC_SIG_BYTES} bytes, got ${sig.length}`, "/signature/sig");
    const secret = ctx.sharedSecrets?.get(keyId);
    if (!secret) throw bad(`unknown shared secret ${keyId}`, "/signature/keyId");
    if (!constantTimeEqual(hmacSha256(secret, bytes), sig)) throw bad("HMAC does not verify", "/signature/sig");
    return { scheme, keyId, sig, bytes };
  }
  throw bad(`unsupported signature scheme ${scheme}`, "/signature/scheme");
}

// After the signature verified: parse, bind, check freshness.
function finish(signed: SignedEnvelope, ctx: VerifyContext, plan: Plan): Envelope {
  let env: Envelope;
  if (plan.introduction) {
    env = openIntroduction(signed, plan.keyId, plan.bytes, plan.sig, ctx.keys);
  } else {
    env = parseEnvelope(signed.payload, signed.payloadType);
    checkKeyMatch(env, plan.keyId);
    if (plan.scheme === SignatureScheme.ED25519) ctx.keys.checkBinding(env.sender, plan.keyId);
  }
  if (ctx.replay) ctx.replay.check(env);
  else if (ctx.clock) checkFreshness(env, ctx.clock.now());
  return markVerified(env);
}

function checkKeyMatch(env: Envelope, keyId: string): void {
  if (env.security?.keyId !== keyId) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "envelope security.key_id differs from the signature's key id", { pointer: "/security/keyId" });
  }
}

// A first contact: the only key available is the one the Hello/Welcome body carries. It
// self-certifies through the key id (a hash of it); the signature is checked with it
// before any other field of the payload is used.
function openIntroduction(signed: SignedEnvelope, keyId: string, signedBytes: Uint8Array, sig: Uint8Array, keys: KeyResolver): Envelope {
  let env: Envelope;
  try {
    env = parseEnvelope(signed.payload, signed.payloadType);
  } catch {
    throw bad(`unknown signer key ${keyId}`, "/signature/keyId");
  }
  const kind = env.body?.kind;
  const introduced = kind?.case === "hello" || kind?.case === "welcome" ? kind.value.identityPublicKey : undefined;
  if (!introduced || keyIdFor(introduced) !== keyId) throw bad(`unknown signer key ${keyId}`, "/signature/keyId");
  if (!verifyEd25519(introduced, signedBytes, sig)) throw bad("signature does not verify", "/signature/sig");
  checkKeyMatch(env, keyId);
  const bound = keys.keyIdOf?.(env.sender);
  if (bound !== undefined && bound !== keyId) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${env.sender} is pinned to ${bound}`, { pointer: "/sender" });
  }
  return env;
}
