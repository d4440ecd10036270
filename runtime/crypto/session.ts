// Sessions (spec/sessions.md): after a handshake that signs both ephemeral X25519 keys,
// HKDF-SHA256 turns the shared secret into four directional keys. Each message is then
// authenticated by HMAC-SHA256 over PAE("fleet.v1.session", session_id, u64be(seq),
// payload_type, payload) — far cheaper than an Ed25519 verify — with a strictly
// increasing sequence, and its body optionally sealed by an AEAD whose nonce is
// derived from that sequence, so a nonce can never repeat under a key.
import { clone, create } from "@bufbuild/protobuf";
import {
  BodySchema,
  EncryptionAlgorithm,
  EncryptionHeaderSchema,
  EnvelopeSchema,
  SecuritySchema,
  type Envelope,
} from "../../generated/proto/fleet/v1/envelope_pb.js";
import { EnvelopeBatchSchema, type SessionEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodeEnvelope, decodeMessage, encodeMessage, EnvelopeBatchWriter } from "../codec/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { aeadOpen, aeadSeal } from "./aead.js";
import { constantTimeEqual } from "./bytes.js";
import { ENVELOPE_BATCH_PROTO, ENVELOPE_PROTO, parseEnvelope, serializeEnvelope } from "./envelope-bytes.js";
import { HMAC_SIG_BYTES, hmacSha256, hmacSha256Keyed } from "./hmac.js";
import { Domain, pae, paePrefix, u64be } from "./pae.js";
import { hkdfSha256, sha256 } from "./sha256.js";
import { x25519SharedSecret } from "./x25519.js";

const utf8 = new TextEncoder();

export { createEphemeral } from "./x25519.js";

export type SessionRole = "initiator" | "responder";

export interface SessionKeys {
  i2rMac: Uint8Array;
  r2iMac: Uint8Array;
  i2rEnc: Uint8Array;
  r2iEnc: Uint8Array;
}

const MAX_SEQUENCE = 2n ** 64n - 1n;
const NONCE_BYTES = 12;

/** HKDF-SHA256(ikm = shared secret, salt = transcript hash, info = PAE("fleet.v1.session-keys", session_id)) -> 128 bytes. */
export function deriveSessionKeys(sharedSecret: Uint8Array, sessionId: string, transcript: Uint8Array): SessionKeys {
  const okm = hkdfSha256(sharedSecret, transcript, pae(Domain.sessionKeys, sessionId), 128);
  return { i2rMac: okm.slice(0, 32), r2iMac: okm.slice(32, 64), i2rEnc: okm.slice(64, 96), r2iEnc: okm.slice(96, 128) };
}

/** SHA-256(PAE("fleet.v1.session-transcript", parts...)): the hash under handshakeTranscript. */
export function transcriptHash(...parts: (Uint8Array | string)[]): Uint8Array {
  return sha256(pae(Domain.sessionTranscript, ...parts));
}

/** What the session transcript binds (spec/handshake.md "Session"), in this order. */
export interface TranscriptInputs {
  /** The initiator's agent name (Hello's sender). */
  initiator: string;
  /** The initiator's Ed25519 identity public key (32 bytes). */
  initiatorKey: Uint8Array;
  /** The responder's agent name (Welcome's sender). */
  responder: string;
  /** The responder's Ed25519 identity public key (32 bytes). */
  responderKey: Uint8Array;
  /** The Hello's SignedEnvelope.payload, exactly as signed. */
  hello: Uint8Array;
  /** The Welcome's SignedEnvelope.payload, exactly as signed. */
  welcome: Uint8Array;
}

/**
 * transcript = SHA-256(PAE("fleet.v1.session-transcript", initiator, initiator_key, responder,
 * responder_key, hello_payload, welcome_payload)): both identities and both signed payloads.
 */
export function handshakeTranscript(t: TranscriptInputs): Uint8Array {
  return transcriptHash(t.initiator, t.initiatorKey, t.responder, t.responderKey, t.hello, t.welcome);
}

/** A side's Finished: HMAC-SHA256(its directional MAC key, PAE("fleet.v1.handshake-finished", role, session_id, transcript)). */
export function finishedMac(macKey: Uint8Array, role: SessionRole, sessionId: string, transcript: Uint8Array): Uint8Array {
  // One MAC with this key: no reusable keyed HMAC (a KeyObject) to build for it.
  return hmacSha256(macKey, pae(Domain.handshakeFinished, role, sessionId, transcript));
}

export function deriveSession(opts: {
  role: SessionRole;
  sessionId: string;
  ourEphemeralPrivate: Uint8Array;
  theirEphemeralPublic: Uint8Array;
  transcript: Uint8Array;
}): Session {
  if (opts.role !== "initiator" && opts.role !== "responder") throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "role must be initiator or responder");
  if (!opts.sessionId) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "session id is required", { pointer: "/sessionId" });
  if (!(opts.transcript instanceof Uint8Array) || opts.transcript.length < 32) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "transcript must be a hash of at least 32 bytes");
  }
  const shared = x25519SharedSecret(opts.ourEphemeralPrivate, opts.theirEphemeralPublic);
  const keys = deriveSessionKeys(shared, opts.sessionId, opts.transcript);
  shared.fill(0);
  return new Session(opts.sessionId, opts.role, keys, opts.transcript);
}

/** The AEAD nonce for a sequence: direction byte (1 = i2r, 2 = r2i), 3 zero bytes, u64be(seq). */
export function sessionNonce(direction: SessionRole, sequence: bigint): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce[0] = direction === "initiator" ? 1 : 2;
  nonce.set(u64be(sequence), 4);
  return nonce;
}

function bodyAad(sessionId: string, sequence: bigint, envelopeId: string): Uint8Array {
  return pae(Domain.sessionBody, sessionId, u64be(sequence), envelopeId);
}

export interface SealOptions {
  /** Seal the body with the session's AEAD key (default false: authenticated, not encrypted). */
  encrypt?: boolean;
  /** Default ChaCha20-Poly1305. */
  algorithm?: "chacha20-poly1305" | "aes-256-gcm";
}

/**
 * What a receiver accepts as the next sequence (spec/sessions.md): "contiguous" (ordered
 * carriers: TCP, WebSocket, the default) exactly last + 1, and a gap (> last + 1) ends the
 * session with 610; "increasing" (core NATS, which may drop but never reorders one
 * publisher's messages) anything above last.
 */
export type SequenceRule = "contiguous" | "increasing";

export class Session {
  private sendSeq = 0n;
  private recvSeq = 0n;
  /** Set for NATS sessions; every other carrier is ordered. */
  sequenceRule: SequenceRule = "contiguous";
  private ended: FleetError | undefined;
  private readonly sendMac: (chunks: Uint8Array[]) => Uint8Array;
  private readonly recvMac: (chunks: Uint8Array[]) => Uint8Array;
  private readonly sendEnc: Uint8Array;
  private readonly recvEnc: Uint8Array;
  private readonly peerRole: SessionRole;
  /** Our Finished and the peer's expected one (key confirmation); absent without a transcript. */
  private readonly ownFinished?: Uint8Array;
  private readonly peerFinished?: Uint8Array;
  /** The initiator has accepted the responder's Finished (its sequence-1 message). */
  private confirmed = false;

  /**
   * With a transcript the session does key confirmation (spec/handshake.md): the responder's
   * sequence-1 message carries its Finished, and the initiator accepts no responder message
   * before that one. Without one (raw keys, tests of the MAC layer) there is none.
   */
  constructor(readonly sessionId: string, readonly role: SessionRole, keys: SessionKeys, transcript?: Uint8Array) {
    const initiator = role === "initiator";
    if (transcript) {
      this.ownFinished = finishedMac(initiator ? keys.i2rMac : keys.r2iMac, role, sessionId, transcript);
      this.peerFinished = finishedMac(initiator ? keys.r2iMac : keys.i2rMac, initiator ? "responder" : "initiator", sessionId, transcript);
    }
    this.sendMac = hmacSha256Keyed(initiator ? keys.i2rMac : keys.r2iMac);
    this.recvMac = hmacSha256Keyed(initiator ? keys.r2iMac : keys.i2rMac);
    this.sendEnc = initiator ? keys.i2rEnc : keys.r2iEnc;
    this.recvEnc = initiator ? keys.r2iEnc : keys.i2rEnc;
    this.peerRole = initiator ? "responder" : "initiator";
  }

  // PAE("fleet.v1.session", session_id, u64be(seq), payload_type, payload) as three chunks:
  // the constant head (computed once), the per-message fields, the payload uncopied. The
  // middle chunk is a per-payload-type scratch buffer rewritten in place: the MAC consumes
  // the chunks before macChunks is called again, so nothing is allocated per message.
  private macHead?: Uint8Array;
  private readonly middles = new Map<string, { bytes: Uint8Array; view: DataView; at: number }>();
  private readonly chunks: Uint8Array[] = [];

  private macChunks(sequence: bigint, payloadType: string, payload: Uint8Array): Uint8Array[] {
    this.macHead ??= paePrefix(4, Domain.session, this.sessionId);
    let mid = this.middles.get(payloadType);
    if (!mid) {
      const type = utf8.encode(payloadType);
      const bytes = new Uint8Array(4 + 8 + 4 + type.length + 4);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, 8);
      view.setUint32(12, type.length);
      bytes.set(type, 16);
      mid = { bytes, view, at: 16 + type.length };
      if (this.middles.size < 8) this.middles.set(payloadType, mid);
    }
    mid.view.setBigUint64(4, sequence);
    mid.view.setUint32(mid.at, payload.length);
    const chunks = this.chunks;
    chunks[0] = this.macHead;
    chunks[1] = mid.bytes;
    chunks[2] = payload;
    return chunks;
  }

  /** This side's Finished (HandshakeConfirm.finished for the initiator); empty without a transcript. */
  finished(): Uint8Array {
    return this.ownFinished?.slice() ?? new Uint8Array(0);
  }

  /** 104 unless mac is the peer's Finished for this session's transcript (constant time). */
  checkPeerFinished(mac: Uint8Array, pointer = "/finished"): void {
    if (!this.peerFinished || !(mac instanceof Uint8Array) || !constantTimeEqual(mac, this.peerFinished)) {
      throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "key confirmation failed: Finished does not match the transcript", { pointer });
    }
  }

  /** The highest sequence sent and received so far. */
  get sequences(): { sent: bigint; received: bigint } {
    return { sent: this.sendSeq, received: this.recvSeq };
  }

  /** Authenticates (and optionally encrypts the body of) one envelope with the next sequence number. */
  seal(env: Envelope, opts: SealOptions = {}): SessionEnvelope {
    const sequence = this.nextSequence();
    const out = opts.encrypt ? this.encryptBody(env, sequence, opts.algorithm) : env;
    return this.authenticated(sequence, ENVELOPE_PROTO, serializeEnvelope(out, ENVELOPE_PROTO));
  }

  /**
   * Authenticates envelopes already serialized (and so validated) by encodeEnvelope as one
   * message: a lone envelope as envelope+proto, several as an EnvelopeBatch under one MAC.
   * Encrypted bodies are sealed one per message by seal(): their nonce is the sequence's.
   */
  sealEncoded(envelopes: Uint8Array[]): SessionEnvelope {
    const batch = new EnvelopeBatchWriter();
    for (const e of envelopes) batch.add(e);
    return this.sealBatch(batch);
  }

  /**
   * sealEncoded for envelopes gathered in an EnvelopeBatchWriter. The result's payload is a
   * view into the writer: encode it before the writer is reused.
   */
  sealBatch(batch: EnvelopeBatchWriter): SessionEnvelope {
    if (batch.count === 0) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "nothing to seal", { pointer: "/envelopes" });
    const sequence = this.nextSequence();
    if (batch.count === 1) return this.authenticated(sequence, ENVELOPE_PROTO, batch.only());
    return this.authenticated(sequence, ENVELOPE_BATCH_PROTO, batch.bytes());
  }

  private nextSequence(): bigint {
    if (this.sendSeq >= MAX_SEQUENCE) throw new FleetError(ErrorCode.SECURITY_REPLAY, "session sequence exhausted; open a new session");
    return this.sendSeq + 1n;
  }

  private authenticated(sequence: bigint, payloadType: string, payload: Uint8Array): SessionEnvelope {
    const mac = this.sendMac(this.macChunks(sequence, payloadType, payload));
    this.sendSeq = sequence; // only once everything above succeeded
    // The responder's first message carries its Finished (key confirmation); no other does.
    const finished = this.role === "responder" && sequence === 1n && this.ownFinished ? this.ownFinished.slice() : new Uint8Array(0);
    // A plain message object: what create() builds for these fields, without its per-field walk.
    return { $typeName: "fleet.v1.SessionEnvelope", sessionId: this.sessionId, sequence, payloadType, payload, mac, finished };
  }

  /**
   * Checks the MAC and the sequence rule, without parsing or changing state (except that a
   * gap ends the session); returns the sequence. 601 bad session or MAC, 604
   * replayed/reordered, 610 a gap on an ordered carrier (then every later message: 610).
   */
  authenticate(se: SessionEnvelope): bigint {
    if (this.ended) throw this.ended;
    if (!se || se.sessionId !== this.sessionId) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "message is for another session", { pointer: "/sessionId" });
    if (!(se.mac instanceof Uint8Array) || se.mac.length !== HMAC_SIG_BYTES) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "session MAC must be 32 bytes", { pointer: "/mac" });
    if (typeof se.payloadType !== "string" || !(se.payload instanceof Uint8Array)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "session envelope lacks payload", { pointer: "/payload" });
    const sequence = BigInt(se.sequence);
    const expected = this.recvMac(this.macChunks(sequence, se.payloadType, se.payload));
    if (!constantTimeEqual(expected, se.mac)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "session MAC does not verify", { pointer: "/mac" });
    this.checkConfirmation(se, sequence);
    if (sequence <= this.recvSeq) {
      throw new FleetError(ErrorCode.SECURITY_REPLAY, `session sequence ${sequence} is not above ${this.recvSeq} (replayed or reordered)`, { pointer: "/sequence" });
    }
    if (this.sequenceRule === "contiguous" && sequence !== this.recvSeq + 1n) {
      // An authentic message past a gap: something in between was deleted. The session is over.
      this.ended = new FleetError(ErrorCode.SECURITY_SEQUENCE_GAP, `session sequence ${sequence} after ${this.recvSeq}: ${sequence - this.recvSeq - 1n} message(s) missing on an ordered carrier; the session has ended`, { pointer: "/sequence" });
      throw this.ended;
    }
    return sequence;
  }

  // Key confirmation (spec/handshake.md): `finished` only on the responder's sequence 1, where
  // the initiator requires it; the initiator accepts no responder message before it (104).
  private checkConfirmation(se: SessionEnvelope, sequence: bigint): void {
    const finished = se.finished ?? new Uint8Array(0);
    if (this.role === "initiator" && this.peerFinished && sequence === 1n) return this.checkPeerFinished(finished);
    if (finished.length) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "finished belongs only on the responder's first message", { pointer: "/finished" });
    if (this.role === "initiator" && this.peerFinished && !this.confirmed) {
      throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "the responder's first message (sequence 1, with its Finished) has not been received", { pointer: "/sequence" });
    }
  }

  /** authenticate(), then parse (codec checks) and decrypt (609); only then the sequence advances. */
  open(se: SessionEnvelope): Envelope {
    const sequence = this.authenticate(se);
    const env = parseEnvelope(se.payload, se.payloadType);
    if (env.bodyCiphertext.length > 0) this.decryptBody(env, sequence);
    this.recvSeq = sequence;
    this.confirmed = true;
    return env;
  }

  /**
   * open() for a message that may hold an EnvelopeBatch. The batch as a whole is authenticated
   * and its container parsed before the sequence advances (a refused batch changes nothing);
   * then each envelope is parsed on its own: a bad one is refused with its code, in refused,
   * without costing its neighbours (they are separate messages from an authenticated peer).
   * payloads[i] are the exact bytes of envelopes[i] (a relay re-seals them one by one).
   */
  openAll(se: SessionEnvelope): { envelopes: Envelope[]; payloads: Uint8Array[]; refused: FleetError[] } {
    if (se?.payloadType !== ENVELOPE_BATCH_PROTO) return { envelopes: [this.open(se)], payloads: [se.payload], refused: [] };
    const sequence = this.authenticate(se);
    const batch = decodeMessage(EnvelopeBatchSchema, se.payload);
    this.recvSeq = sequence;
    this.confirmed = true;
    const envelopes: Envelope[] = [];
    const payloads: Uint8Array[] = [];
    const refused: FleetError[] = [];
    for (const bytes of batch.envelopes) {
      try {
        const env = decodeEnvelope(bytes);
        if (env.bodyCiphertext.length > 0) {
          throw new FleetError(ErrorCode.SECURITY_DECRYPTION_FAILED, "an encrypted body travels alone, never in a batch", { pointer: "/bodyCiphertext" });
        }
        envelopes.push(env);
        payloads.push(bytes);
      } catch (e) {
        refused.push(asFleetError(e, ErrorCode.WIRE_MALFORMED, "batched envelope"));
      }
    }
    return { envelopes, payloads, refused };
  }

  private encryptBody(env: Envelope, sequence: bigint, algorithm: SealOptions["algorithm"]): Envelope {
    if (!env.body) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "nothing to encrypt: body is absent", { pointer: "/body" });
    const alg = algorithm === "aes-256-gcm" ? EncryptionAlgorithm.AES_256_GCM : EncryptionAlgorithm.CHACHA20_POLY1305;
    const nonce = sessionNonce(this.role, sequence);
    const plaintext = encodeMessage(BodySchema, env.body);
    const ciphertext = aeadSeal(alg, this.sendEnc, nonce, bodyAad(this.sessionId, sequence, env.id), plaintext);
    const out = clone(EnvelopeSchema, env);
    out.body = undefined;
    out.bodyCiphertext = ciphertext;
    out.security ??= create(SecuritySchema);
    out.security.encryption = create(EncryptionHeaderSchema, { algorithm: alg, sessionId: this.sessionId, nonce });
    return out;
  }

  private decryptBody(env: Envelope, sequence: bigint): void {
    const enc = env.security?.encryption;
    const fail = (why: string) => new FleetError(ErrorCode.SECURITY_DECRYPTION_FAILED, why, { pointer: "/bodyCiphertext" });
    if (!enc || enc.sessionId !== this.sessionId) throw fail("encryption header names another session");
    if (!constantTimeEqual(enc.nonce, sessionNonce(this.peerRole, sequence))) throw fail("nonce is not the one derived from the sequence");
    const plaintext = aeadOpen(enc.algorithm, this.recvEnc, enc.nonce, bodyAad(this.sessionId, sequence, env.id), env.bodyCiphertext);
    env.body = decodeMessage(BodySchema, plaintext);
    env.bodyCiphertext = new Uint8Array(0);
  }

  toJSON(): object {
    return { sessionId: this.sessionId, role: this.role, sent: String(this.sendSeq), received: String(this.recvSeq) };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Session(${this.sessionId}, ${this.role})`;
  }
}
