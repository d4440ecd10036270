// The crypto module: identities, key ids, PAE, envelope signatures, replay protection,
// sessions, tokens and redaction. Browser-safe: node:crypto is reached only at runtime.
export { base32, keyIdFor } from "./keyid.js";
export { identityFromUserSeed, publicKeyOfUserNkey, userNkey, userSeed } from "./nkey.js";
export { Domain, pae, u64be, type PaePart } from "./pae.js";
export { constantTimeEqual, fromBase64Url, fromHex, randomBytes, toBase64Url, toHex } from "./bytes.js";
export { registerNodeCrypto } from "./node-crypto.js";
export { assertValidPublicKey, ed25519Backends, isCanonicalS, verifyEd25519, verifyEd25519Async, type Ed25519Backend } from "./ed25519.js";
export { exportSeed, generateIdentity, identityFromSeed, type Identity } from "./identity.js";
export { MAX_REVOKED_KEYS, PinnedKeys, StaticKeys, rotationPossessionBytes, type KeyResolver, type PinnedKey, type PinStore, type RevokedKey } from "./keys.js";
export { createKeyRevocation, createKeyRotation } from "./rotation.js";
export { checkFreshness, DEFAULT_SKEW_MS, MAX_TTL_SECONDS, MemoryReplayStore, ReplayGuard, type ReplayStore, type ReplayWindow } from "./replay.js";
export { hmacSha256, sharedSecretKeyId } from "./hmac.js";
export { aeadOpen, aeadSeal } from "./aead.js";
export {
  envelopeSigningBytes,
  NONCE_BYTES,
  openSignedEnvelope,
  openSignedEnvelopeAsync,
  signEnvelope,
  signEnvelopeAsync,
  signEnvelopeHmac,
  type VerifyContext,
} from "./envelope-sign.js";
export { isVerifiedEnvelope } from "./verified.js";
export { createEphemeral, createEphemeralAsync, createEphemeralKey, webCryptoHasX25519, x25519PublicKey, x25519SharedSecret, type EphemeralKey } from "./x25519.js";
export { deriveSession, deriveSessionKeys, finishedMac, handshakeTranscript, Session, sessionNonce, transcriptHash, type SealOptions, type SequenceRule, type SessionKeys, type SessionRole, type TranscriptInputs } from "./session.js";
export { redact, redactText } from "./redact.js";
export {
  ADMISSION_SCOPE,
  audienceKeyId,
  DEFAULT_TOKEN_TTL_MS,
  issueToken,
  signTokenClaims,
  tokenAudience,
  MemoryTokenUseStore,
  TOKEN_CLAIMS_TYPE,
  TOKEN_PREFIX,
  tokenSigningBytes,
  verifyToken,
  type TokenClaims,
  type TokenClaimsInit,
  type TokenUseStore,
  type VerifyTokenOptions,
} from "./token.js";
export { MAX_TICKET_BYTES, openResumed, openTicket, resumptionBinderKey, resumptionPsk, sealTicket, signResumed, ticketFromKeyId, ticketKeyId, ticketKeyTag, type TicketState } from "./resumption.js";
