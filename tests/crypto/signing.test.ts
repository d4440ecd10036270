import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { HelloSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import {
  createKeyRotation,
  Domain,
  identityFromSeed,
  openSignedEnvelope,
  pae,
  PinnedKeys,
  ReplayGuard,
  signEnvelope,
  signEnvelopeHmac,
  StaticKeys,
  type PinnedKey,
} from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { alice, bob, envelope, mallory, seed, T0, errorCode } from "./helpers.js";

const keys = () => new StaticKeys([alice, bob]);


describe("envelope signatures", () => {
  it("signs the exact bytes and opens them, in both payload types", () => {
    for (const payloadType of ["proto", "json"] as const) {
      const env = envelope();
      const signed = signEnvelope(env, alice, { payloadType });
      expect(env.security?.keyId).toBe(alice.keyId);
      expect(env.security?.nonce.length).toBe(16);
      const opened = openSignedEnvelope(signed, { keys: keys() });
      expect(toBinary(EnvelopeSchema, opened)).toEqual(toBinary(EnvelopeSchema, env));
    }
  });

  it("rejects every single-bit change of the payload with 601", () => {
    const signed = signEnvelope(envelope(), alice);
    for (let i = 0; i < signed.payload.length; i++) {
      const tampered = { ...signed, payload: signed.payload.slice() };
      tampered.payload[i] ^= 1;
      expect(errorCode(() => openSignedEnvelope(tampered, { keys: keys() }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    }
  });

  it("601: wrong key, truncated or altered signature, unknown signer, wrong payload type, wrong domain", () => {
    const signed = signEnvelope(envelope(), alice);
    const k = keys();
    // Signed by bob, claiming alice's key id.
    const wrongKey = { ...signed, signature: { ...signed.signature!, sig: bob.sign(pae(Domain.envelope, signed.payloadType, signed.payload)) } };
    expect(errorCode(() => openSignedEnvelope(wrongKey, { keys: k }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    const truncated = { ...signed, signature: { ...signed.signature!, sig: signed.signature!.sig.subarray(0, 63) } };
    expect(errorCode(() => openSignedEnvelope(truncated, { keys: k }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    const flipped = signed.signature!.sig.slice();
    flipped[10] ^= 0x80;
    expect(errorCode(() => openSignedEnvelope({ ...signed, signature: { ...signed.signature!, sig: flipped } }, { keys: k }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => openSignedEnvelope(signed, { keys: new StaticKeys([bob]) }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // The payload type is signed too: relabelling the bytes breaks the signature.
    expect(errorCode(() => openSignedEnvelope({ ...signed, payloadType: "application/vnd.fleet.v1.envelope+json" }, { keys: k }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // A signature made for another domain over the same parts.
    const otherDomain = { ...signed, signature: { ...signed.signature!, sig: alice.sign(pae(Domain.token, signed.payloadType, signed.payload)) } };
    expect(errorCode(() => openSignedEnvelope(otherDomain, { keys: k }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => openSignedEnvelope({ ...signed, signature: { ...signed.signature!, scheme: SignatureScheme.UNSPECIFIED } }, { keys: k }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("never parses before verifying: garbage payloads with bad signatures are 601, not 701", () => {
    const signed = signEnvelope(envelope(), alice);
    const garbage = { ...signed, payload: Uint8Array.of(0xff, 0xff, 0xff) };
    expect(errorCode(() => openSignedEnvelope(garbage, { keys: keys() }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("710 for a validly signed but unknown payload type", () => {
    const signed = signEnvelope(envelope(), alice);
    const type = "application/x-other";
    const resigned = { ...signed, payloadType: type, signature: { ...signed.signature!, sig: alice.sign(pae(Domain.envelope, type, signed.payload)) } };
    expect(errorCode(() => openSignedEnvelope(resigned, { keys: keys() }))).toBe(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE);
  });

  it("607 when a valid key signs for a name it is not bound to", () => {
    const signed = signEnvelope(envelope({ sender: "agent-bob" }), alice);
    expect(errorCode(() => openSignedEnvelope(signed, { keys: keys() }))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
  });

  it("HMAC mode verifies with the shared secret and rejects a wrong one", () => {
    const secret = seed(9);
    const signed = signEnvelopeHmac(envelope(), secret);
    const keyId = signed.signature!.keyId;
    expect(keyId.startsWith("hmac:")).toBe(true);
    expect(openSignedEnvelope(signed, { keys: keys(), sharedSecrets: new Map([[keyId, secret]]) }).sender).toBe("agent-alice");
    expect(errorCode(() => openSignedEnvelope(signed, { keys: keys(), sharedSecrets: new Map([[keyId, seed(10)]]) }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => openSignedEnvelope(signed, { keys: keys() }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => signEnvelopeHmac(envelope(), new Uint8Array(8)))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
  });
});

describe("replay protection", () => {
  it("605 outside the skew window, 602 after ttl, 604 on a repeat, accepted again never", () => {
    const clock = new FakeClock(T0);
    const replay = new ReplayGuard({ clock });
    const k = keys();
    const signed = signEnvelope(envelope(), alice);
    expect(openSignedEnvelope(signed, { keys: k, replay }).id).toBeTruthy();
    expect(errorCode(() => openSignedEnvelope(signed, { keys: k, replay }))).toBe(ErrorCode.SECURITY_REPLAY);
    clock.advance(119_000);
    expect(errorCode(() => openSignedEnvelope(signed, { keys: k, replay }))).toBe(ErrorCode.SECURITY_REPLAY);
    clock.advance(2_000);
    expect(errorCode(() => openSignedEnvelope(signed, { keys: k, replay }))).toBe(ErrorCode.SECURITY_CLOCK_SKEW);
    expect(errorCode(() => openSignedEnvelope(signEnvelope(envelope({}, T0 + 300_000), alice), { keys: k, replay }))).toBe(ErrorCode.SECURITY_CLOCK_SKEW);
    const shortLived = signEnvelope(envelope({ ttlSeconds: 5 }, clock.now()), alice);
    clock.advance(6_000);
    expect(errorCode(() => openSignedEnvelope(shortLived, { keys: k, replay }))).toBe(ErrorCode.SECURITY_TOKEN_EXPIRED);
  });

  it("keeps the seen-id cache bounded and fails closed rather than forgetting a live id", () => {
    const clock = new FakeClock(T0);
    const replay = new ReplayGuard({ clock, maxEntries: 3 });
    for (let i = 0; i < 3; i++) replay.check(envelope());
    expect(errorCode(() => replay.check(envelope()))).toBe(ErrorCode.DELIVERY_BUSY);
    clock.advance(121_000);
    replay.check(envelope({}, clock.now()));
    expect(replay.size).toBe(1);
  });
});

describe("name-to-key pinning", () => {
  it("pins on first use, refuses a second key, persists through a PinStore", () => {
    const saved: PinnedKey[] = [];
    const pins = new PinnedKeys({ load: () => saved, save: (p) => saved.push(p) });
    pins.pin("agent-alice", alice.publicKey);
    pins.pin("agent-alice", alice.publicKey);
    expect(errorCode(() => pins.pin("agent-alice", mallory.publicKey))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    expect(new PinnedKeys({ load: () => saved, save: () => {} }).resolve(alice.keyId)).toEqual(alice.publicKey);
    expect(errorCode(() => pins.pin("x", new Uint8Array(31)))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    expect(errorCode(() => pins.pin("x", new Uint8Array(32)))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
  });

  it("changes a binding only through a rotation signed by the old key with the new key's proof", () => {
    const pins = new PinnedKeys();
    pins.pin("agent-alice", alice.publicKey);
    const next = identityFromSeed("agent-alice", seed(42));
    const rotationEnv = (rot = createKeyRotation(alice, next, T0)) => envelope({ body: { kind: { case: "keyRotation", value: rot } } });
    // Signed by someone else's key: 601 (unknown) or 607 (not bound) never reaches applyRotation.
    const forged = signEnvelope(rotationEnv(), mallory);
    expect(errorCode(() => openSignedEnvelope(forged, { keys: pins }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // A constructed (never verified) envelope is refused.
    expect(errorCode(() => pins.applyRotation(rotationEnv()))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    // A bad possession signature is refused.
    const badRot = createKeyRotation(alice, next, T0);
    badRot.newKeySignature = mallory.sign(new Uint8Array(4));
    const badOpened = openSignedEnvelope(signEnvelope(rotationEnv(badRot), alice), { keys: pins });
    expect(errorCode(() => pins.applyRotation(badOpened))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    // The real one works; afterwards only the new key is accepted for the name.
    const opened = openSignedEnvelope(signEnvelope(rotationEnv(), alice), { keys: pins });
    pins.applyRotation(opened);
    expect(pins.keyIdOf("agent-alice")).toBe(next.keyId);
    expect(errorCode(() => openSignedEnvelope(signEnvelope(envelope(), alice), { keys: pins }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(openSignedEnvelope(signEnvelope(envelope(), next), { keys: pins }).sender).toBe("agent-alice");
    // Replaying the old rotation now fails: the old key is no longer pinned.
    expect(errorCode(() => openSignedEnvelope(signEnvelope(rotationEnv(), alice), { keys: pins }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("introductions: a Hello carrying a key that hashes to the signer's key id opens without a pin", () => {
    const pins = new PinnedKeys();
    const hello = create(HelloSchema, { versions: ["3.0"], nonce: seed(5), ephemeralPublicKey: seed(6), identityPublicKey: bob.publicKey });
    const env = envelope({ sender: "agent-bob", body: { kind: { case: "hello", value: hello } } });
    const signed = signEnvelope(env, bob);
    expect(errorCode(() => openSignedEnvelope(signed, { keys: pins }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(openSignedEnvelope(signed, { keys: pins, allowIntroduction: true }).sender).toBe("agent-bob");
    // Signed by mallory while carrying bob's key: the key id does not match the carried key.
    const env2 = envelope({ sender: "agent-bob", body: { kind: { case: "hello", value: hello } } });
    expect(errorCode(() => openSignedEnvelope(signEnvelope(env2, mallory), { keys: pins, allowIntroduction: true }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // A name already pinned to another key cannot be introduced again.
    pins.pin("agent-bob", alice.publicKey);
    expect(errorCode(() => openSignedEnvelope(signEnvelope(envelope({ sender: "agent-bob", body: { kind: { case: "hello", value: hello } } }), bob), { keys: pins, allowIntroduction: true }))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
  });
});
