// Session resumption (spec/handshake.md "Resumption"): a full handshake leaves both sides a
// pre-shared key (PSK) derived from its X25519 secret; the responder hands the initiator a
// ticket, the PSK and the initiator's identity sealed under a key only the responder holds.
// A later handshake presents the ticket and authenticates its three steps with HMACs under
// the PSK instead of Ed25519 signatures (fresh X25519 keys still give the session its keys).
import { create } from "@bufbuild/protobuf";
import { EncryptionAlgorithm, type Envelope, SecuritySchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type SignedEnvelope, SignatureScheme, SignatureSchema, SignedEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { aeadOpen, aeadSeal } from "./aead.js";
import { concatBytes, constantTimeEqual, fromBase64Url, randomBytes, toBase64Url } from "./bytes.js";
import { ENVELOPE_PROTO, parseEnvelope, serializeEnvelope } from "./envelope-bytes.js";
import { envelopeSigningBytes, NONCE_BYTES } from "./envelope-sign.js";
import { HMAC_SIG_BYTES, hmacSha256 } from "./hmac.js";
import { Domain, pae, u64be } from "./pae.js";
import { checkFreshness } from "./replay.js";
import { hkdfSha256, sha256 } from "./sha256.js";
import type { SessionRole } from "./session.js";
import { markVerified } from "./verified.js";

export const RESUMPTION_PSK_BYTES = 32;
export const TICKET_KEY_BYTES = 32;
/** The prefix of `Signature.key_id` on a resumed step: the rest is the ticket, base64url. */
export const TICKET_KEY_ID_PREFIX = "ticket:";
/** Largest ticket a responder accepts (ours: 105 bytes plus the agent name in UTF-8; none is issued past this). */
export const MAX_TICKET_BYTES = 512;
const TICKET_VERSION = 1;
const TICKET_HEADER_BYTES = 1 + 4 + 12;

/**
 * psk = HKDF-SHA256(ikm = the handshake's X25519 shared secret, salt = nonce_i || nonce_r,
 * info = PAE("fleet.v1.resumption-psk", session_id), 32 bytes). Only the two parties hold it.
 */
export function resumptionPsk(shared: Uint8Array, initiatorNonce: Uint8Array, responderNonce: Uint8Array, sessionId: string): Uint8Array {
  return hkdfSha256(shared, concatBytes(initiatorNonce, responderNonce), pae(Domain.resumptionPsk, sessionId), RESUMPTION_PSK_BYTES);
}

/** The MAC key of one side's resumed steps: HMAC-SHA256(psk, PAE("fleet.v1.resumption-binder", role)). */
export function resumptionBinderKey(psk: Uint8Array, role: SessionRole): Uint8Array {
  return hmacSha256(psk, pae(Domain.resumptionBinder, role));
}

/** `Signature.key_id` of a resumed step: "ticket:" + base64url(ticket). */
export function ticketKeyId(ticket: Uint8Array): string {
  return TICKET_KEY_ID_PREFIX + toBase64Url(ticket);
}

/** The ticket a resumed step names; 104 when the key id is not a ticket. */
export function ticketFromKeyId(keyId: string): Uint8Array {
  if (!keyId.startsWith(TICKET_KEY_ID_PREFIX) || keyId.length > TICKET_KEY_ID_PREFIX.length + Math.ceil((MAX_TICKET_BYTES * 4) / 3)) {
    throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "not a resumption ticket", { pointer: "/signature/keyId" });
  }
  return fromBase64Url(keyId.slice(TICKET_KEY_ID_PREFIX.length), ErrorCode.HANDSHAKE_AUTH_FAILED);
}

/**
 * A resumed handshake step: scheme HMAC_SHA256, key id "ticket:…",
 * sig = HMAC-SHA256(binder(role), PAE("fleet.v1.envelope", payload_type, payload)). The
 * envelope's `security.key_id` stays the sender's identity key id (the ticket names it too).
 */
export function signResumed(env: Envelope, identityKeyId: string, psk: Uint8Array, role: SessionRole, ticket: Uint8Array): SignedEnvelope {
  env.security ??= create(SecuritySchema);
  env.security.keyId = identityKeyId;
  if (env.security.nonce.length === 0) env.security.nonce = randomBytes(NONCE_BYTES);
  const payloadType = ENVELOPE_PROTO;
  const payload = serializeEnvelope(env, payloadType);
  const sig = hmacSha256(resumptionBinderKey(psk, role), envelopeSigningBytes(payloadType, payload));
  return create(SignedEnvelopeSchema, { payloadType, payload, signature: create(SignatureSchema, { scheme: SignatureScheme.HMAC_SHA256, keyId: ticketKeyId(ticket), sig }) });
}

/**
 * Verifies a resumed step made by `role`, then parses it and checks its freshness. 104 when the
 * scheme, key id or MAC is wrong (before the payload is parsed); 605/602 for time.
 */
export function openResumed(signed: SignedEnvelope, psk: Uint8Array, role: SessionRole, ticket: Uint8Array, now: number): Envelope {
  const s = signed?.signature;
  if (!s || s.scheme !== SignatureScheme.HMAC_SHA256 || s.sig.length !== HMAC_SIG_BYTES) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "a resumed step carries an HMAC-SHA256 of 32 bytes", { pointer: "/signature" });
  if (s.keyId !== ticketKeyId(ticket)) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "a resumed step names another ticket", { pointer: "/signature/keyId" });
  const mac = hmacSha256(resumptionBinderKey(psk, role), envelopeSigningBytes(signed.payloadType, signed.payload));
  if (!constantTimeEqual(mac, s.sig)) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "resumption MAC does not verify", { pointer: "/signature/sig" });
  const env = parseEnvelope(signed.payload, signed.payloadType);
  checkFreshness(env, now);
  return markVerified(env);
}

/** What a ticket seals: the PSK, whose key it was made for, and until when it is good. */
export interface TicketState {
  agent: string;
  identityPublicKey: Uint8Array;
  psk: Uint8Array;
  /** Unix milliseconds from which the ticket is refused (expired when now >= expiresAtMs). */
  expiresAtMs: number;
}

/** The 4-byte tag naming a ticket key: SHA-256(PAE("fleet.v1.resumption-ticket-key", key))[0..4]. */
export function ticketKeyTag(ticketKey: Uint8Array): Uint8Array {
  return sha256(pae(Domain.resumptionTicketKey, ticketKey)).slice(0, 4);
}

/**
 * The reference responder's ticket (the format is the responder's own business; ours is specified
 * so its vectors can be checked): 0x01 || key_tag (4) || nonce (12) || AES-256-GCM(ticket_key,
 * nonce, aad = 0x01 || key_tag, psk (32) || identity_public_key (32) || u64be(expires_at_ms) || agent).
 */
export function sealTicket(ticketKey: Uint8Array, state: TicketState, nonce: Uint8Array): Uint8Array {
  const agent = new TextEncoder().encode(state.agent);
  const header = concatBytes(new Uint8Array([TICKET_VERSION]), ticketKeyTag(ticketKey), nonce);
  const plain = concatBytes(state.psk, state.identityPublicKey, u64be(state.expiresAtMs), agent);
  return concatBytes(header, aeadSeal(EncryptionAlgorithm.AES_256_GCM, ticketKey, nonce, header.subarray(0, 5), plain));
}

/**
 * Opens a ticket this responder sealed: 104 (pointer /signature/keyId) when it is not ours, was
 * altered, or has expired at `now`. The caller still checks the agent and its key.
 */
export function openTicket(ticketKey: Uint8Array, ticket: Uint8Array, now: number): TicketState {
  const refuse = (why: string) => new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, `resumption refused: ${why}`, { pointer: "/signature/keyId" });
  if (ticket.length > MAX_TICKET_BYTES || ticket.length < TICKET_HEADER_BYTES + 16 + 72 || ticket[0] !== TICKET_VERSION) throw refuse("not a ticket of this hub");
  if (!constantTimeEqual(ticket.subarray(1, 5), ticketKeyTag(ticketKey))) throw refuse("ticket sealed under another key");
  let plain: Uint8Array;
  try {
    plain = aeadOpen(EncryptionAlgorithm.AES_256_GCM, ticketKey, ticket.subarray(5, TICKET_HEADER_BYTES), ticket.subarray(0, 5), ticket.subarray(TICKET_HEADER_BYTES));
  } catch {
    throw refuse("ticket does not open");
  }
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  const expiresAtMs = Number(view.getBigUint64(64));
  let agent: string;
  try {
    agent = new TextDecoder("utf-8", { fatal: true }).decode(plain.subarray(72));
  } catch {
    throw refuse("ticket names no agent");
  }
  if (expiresAtMs <= now) throw refuse("ticket expired");
  return { psk: plain.slice(0, 32), identityPublicKey: plain.slice(32, 64), expiresAtMs, agent };
}
