import { describe, expect, it, afterEach } from "vitest";
import { toBinary } from "@bufbuild/protobuf";
import { BodySchema, EncryptionAlgorithm } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { createEphemeral, deriveSession, deriveSessionKeys, handshakeTranscript, Session, transcriptHash, x25519PublicKey, x25519SharedSecret } from "../../runtime/crypto/index.js";
import { setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { aeadOpen, aeadSeal } from "../../runtime/crypto/aead.js";
import { toHex } from "../../runtime/crypto/bytes.js";
import { ErrorCode } from "../../runtime/errors.js";
import { envelope, seed, errorCode } from "./helpers.js";

afterEach(() => setNodeCryptoDisabled(false));

function pair(sessionId = "sess-1") {
  const i = createEphemeral();
  const r = createEphemeral();
  const transcript = transcriptHash(i.publicKey, r.publicKey);
  const initiator = deriveSession({ role: "initiator", sessionId, ourEphemeralPrivate: i.privateKey, theirEphemeralPublic: r.publicKey, transcript });
  const responder = deriveSession({ role: "responder", sessionId, ourEphemeralPrivate: r.privateKey, theirEphemeralPublic: i.publicKey, transcript });
  return { initiator, responder };
}


describe("sessions", () => {
  it("identity misbinding: same ephemeral keys, but the initiator's transcript names another responder, so the responder's Finished is refused (104)", () => {
    const i = createEphemeral();
    const r = createEphemeral();
    const inputs = { initiator: "agent-alice", initiatorKey: seed(1), responder: "agent-bob", responderKey: seed(2), hello: seed(3), welcome: seed(4) };
    const shared = x25519SharedSecret(i.privateKey, r.publicKey);
    // The responder believes it talks to agent-alice; the initiator believes it talks to agent-carol.
    const rt = handshakeTranscript(inputs);
    const it_ = handshakeTranscript({ ...inputs, responder: "agent-carol" });
    const responder = new Session("s", "responder", deriveSessionKeys(shared, "s", rt), rt);
    const initiator = new Session("s", "initiator", deriveSessionKeys(shared, "s", it_), it_);
    const first = responder.seal(envelope({ sender: "agent-bob" }));
    expect(errorCode(() => initiator.open(first))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID); // other keys: the MAC fails first
    // Same keys (an old transcript that bound only the ephemeral keys) but other Finished inputs: 104.
    const keys = deriveSessionKeys(shared, "s", transcriptHash(i.publicKey, r.publicKey));
    const r2 = new Session("s", "responder", keys, rt);
    const i2 = new Session("s", "initiator", keys, it_);
    expect(errorCode(() => i2.open(r2.seal(envelope({ sender: "agent-bob" }))))).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    // The responder refuses a Finished on an initiator's message.
    const i3 = new Session("s", "initiator", keys, rt);
    const plain = envelope();
    const sealed = i3.seal(plain);
    expect(errorCode(() => r2.open({ ...sealed, finished: new Uint8Array(32) }))).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(r2.open(sealed).id).toBe(plain.id);
  });

  it("both sides derive the same keys: each opens what the other seals, in both directions", () => {
    const { initiator, responder } = pair();
    for (let n = 0; n < 3; n++) {
      const a = envelope();
      expect(responder.open(initiator.seal(a)).id).toBe(a.id);
      const b = envelope({ sender: "agent-bob" });
      expect(initiator.open(responder.seal(b)).id).toBe(b.id);
    }
  });

  it("X25519 agrees across node:crypto and noble", () => {
    const a = seed(20);
    const b = seed(40);
    const pubA = x25519PublicKey(a);
    const pubB = x25519PublicKey(b);
    const viaNode = x25519SharedSecret(a, pubB);
    setNodeCryptoDisabled(true);
    expect(toHex(x25519PublicKey(a))).toBe(toHex(pubA));
    expect(toHex(x25519SharedSecret(b, pubA))).toBe(toHex(viaNode));
  });

  it("rejects tampered, reordered, replayed, reflected and foreign-session messages", () => {
    const { initiator, responder } = pair();
    const first = initiator.seal(envelope());
    const second = initiator.seal(envelope());
    const tampered = { ...first, payload: first.payload.slice() };
    tampered.payload[5] ^= 1;
    expect(errorCode(() => responder.open(tampered))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => responder.open({ ...first, sequence: 7n }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => responder.open({ ...first, mac: first.mac.subarray(0, 16) }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(responder.open(second).id).toBeTruthy();
    expect(errorCode(() => responder.open(first))).toBe(ErrorCode.SECURITY_REPLAY); // reordered
    expect(errorCode(() => responder.open(second))).toBe(ErrorCode.SECURITY_REPLAY); // replayed
    // A message reflected back to its sender fails: the keys are directional.
    expect(errorCode(() => initiator.open(initiator.seal(envelope())))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    const other = pair("sess-2");
    expect(errorCode(() => other.responder.open(initiator.seal(envelope())))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // A rejected message does not advance the receiver: the next genuine one still opens.
    expect(responder.open(initiator.seal(envelope())).id).toBeTruthy();
  });

  it("different transcripts give unrelated keys (the handshake binds the session)", () => {
    const i = createEphemeral();
    const r = createEphemeral();
    const a = deriveSession({ role: "initiator", sessionId: "s", ourEphemeralPrivate: i.privateKey, theirEphemeralPublic: r.publicKey, transcript: transcriptHash(seed(1)) });
    const b = deriveSession({ role: "responder", sessionId: "s", ourEphemeralPrivate: r.privateKey, theirEphemeralPublic: i.publicKey, transcript: transcriptHash(seed(2)) });
    expect(errorCode(() => b.open(a.seal(envelope())))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  for (const algorithm of ["chacha20-poly1305", "aes-256-gcm"] as const) {
    it(`encrypts the body with ${algorithm}; nonces never repeat; ciphertext tampering is 601 then 609`, () => {
      const { initiator, responder } = pair();
      const nonces = new Set<string>();
      for (let n = 0; n < 5; n++) {
        const env = envelope();
        const sealed = initiator.seal(env, { encrypt: true, algorithm });
        const plain = toBinary(BodySchema, env.body!);
        // The plaintext body is not in the wire bytes.
        expect(Buffer.from(sealed.payload).includes(Buffer.from(plain))).toBe(false);
        const opened = responder.open(sealed);
        expect(toBinary(BodySchema, opened.body!)).toEqual(plain);
        expect(opened.security?.encryption?.algorithm).toBe(algorithm === "aes-256-gcm" ? EncryptionAlgorithm.AES_256_GCM : EncryptionAlgorithm.CHACHA20_POLY1305);
        nonces.add(toHex(opened.security!.encryption!.nonce));
        // The caller's envelope was not modified.
        expect(env.body).toBeDefined();
      }
      expect(nonces.size).toBe(5);
      // The responder's nonces differ from the initiator's even at the same sequence.
      const back = initiator.open(responder.seal(envelope(), { encrypt: true, algorithm }));
      expect(nonces.has(toHex(back.security!.encryption!.nonce))).toBe(false);
    });
  }

  it("AEAD: node:crypto and noble give identical bytes and open each other's; a bad tag is 609", () => {
    for (const alg of [EncryptionAlgorithm.CHACHA20_POLY1305, EncryptionAlgorithm.AES_256_GCM]) {
      const key = seed(5);
      const nonce = seed(6).subarray(0, 12);
      const aad = seed(7);
      const msg = seed(8);
      const viaNode = aeadSeal(alg, key, nonce, aad, msg);
      setNodeCryptoDisabled(true);
      const viaNoble = aeadSeal(alg, key, nonce, aad, msg);
      expect(toHex(aeadOpen(alg, key, nonce, aad, viaNode))).toBe(toHex(msg));
      setNodeCryptoDisabled(false);
      expect(toHex(viaNoble)).toBe(toHex(viaNode));
      expect(toHex(aeadOpen(alg, key, nonce, aad, viaNoble))).toBe(toHex(msg));
      const bad = viaNode.slice();
      bad[bad.length - 1] ^= 1;
      expect(errorCode(() => aeadOpen(alg, key, nonce, aad, bad))).toBe(ErrorCode.SECURITY_DECRYPTION_FAILED);
      expect(errorCode(() => aeadOpen(alg, key, nonce, aad, bad.subarray(0, 10)))).toBe(ErrorCode.SECURITY_DECRYPTION_FAILED);
    }
    expect(errorCode(() => aeadOpen(9 as EncryptionAlgorithm, seed(5), seed(6).subarray(0, 12), seed(7), seed(8)))).toBe(ErrorCode.SECURITY_DECRYPTION_FAILED);
  });

  it("609 when an authentic message does not decrypt (wrong AEAD key)", () => {
    const keys = deriveSessionKeys(seed(1), "s", transcriptHash());
    const sender = new Session("s", "initiator", keys);
    const receiver = new Session("s", "responder", { ...keys, i2rEnc: seed(99) });
    expect(errorCode(() => receiver.open(sender.seal(envelope(), { encrypt: true })))).toBe(ErrorCode.SECURITY_DECRYPTION_FAILED);
  });

  it("bad ephemeral keys and short transcripts are typed errors", () => {
    const i = createEphemeral();
    const base = { role: "initiator" as const, sessionId: "s", ourEphemeralPrivate: i.privateKey, transcript: transcriptHash() };
    expect(errorCode(() => deriveSession({ ...base, theirEphemeralPublic: new Uint8Array(31) }))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    expect(errorCode(() => deriveSession({ ...base, theirEphemeralPublic: new Uint8Array(32) }))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    expect(errorCode(() => deriveSession({ ...base, theirEphemeralPublic: i.publicKey, transcript: new Uint8Array(4) }))).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
  });
});
