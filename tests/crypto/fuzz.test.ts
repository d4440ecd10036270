// Bounded property tests: hostile input to every public entry point ends in a FleetError
// with a protocol code (or a plain false from the boolean verifiers), never another exception.
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SessionEnvelopeSchema, SignedEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import {
  createEphemeral,
  deriveSession,
  Domain,
  fromBase64Url,
  openSignedEnvelope,
  pae,
  PinnedKeys,
  ReplayGuard,
  StaticKeys,
  toBase64Url,
  transcriptHash,
  verifyEd25519,
} from "../../runtime/crypto/index.js";
import { FleetError } from "../../runtime/errors.js";
import { alice, bob, T0 } from "./helpers.js";

const RUNS = { numRuns: 300, seed: 1234 };

function typed(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    return e instanceof FleetError && e.code > 0;
  }
}

const keys = new StaticKeys([alice, bob]);
const PT = ["application/vnd.fleet.v1.envelope+proto", "application/vnd.fleet.v1.envelope+json", "text/plain", ""];

describe("bad input never escapes untyped", () => {
  it("openSignedEnvelope with arbitrary containers", () => {
    fc.assert(
      fc.property(fc.constantFrom(...PT), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -1, max: 5 }), fc.constantFrom(alice.keyId, bob.keyId, "", "ed25519:x", "hmac:y"), fc.uint8Array({ maxLength: 80 }), (payloadType, payload, scheme, keyId, sig) => {
        const signed = create(SignedEnvelopeSchema, { payloadType, payload, signature: { scheme, keyId, sig } });
        return typed(() => openSignedEnvelope(signed, { keys, replay: new ReplayGuard({ clock: new FakeClock(T0) }), allowIntroduction: true, sharedSecrets: new Map([["hmac:y", new Uint8Array(32)]]) }));
      }),
      RUNS,
    );
  });

  it("validly signed garbage payloads get codec errors, not crashes", () => {
    fc.assert(
      fc.property(fc.constantFrom(...PT.slice(0, 2)), fc.uint8Array({ maxLength: 300 }), (payloadType, payload) => {
        const sig = alice.sign(pae(Domain.envelope, payloadType, payload));
        const signed = create(SignedEnvelopeSchema, { payloadType, payload, signature: { scheme: 1, keyId: alice.keyId, sig } });
        return typed(() => openSignedEnvelope(signed, { keys, clock: new FakeClock(T0) }));
      }),
      RUNS,
    );
  });

  it("Session.open with arbitrary session envelopes", () => {
    const i = createEphemeral();
    const r = createEphemeral();
    const s = deriveSession({ role: "responder", sessionId: "s", ourEphemeralPrivate: r.privateKey, theirEphemeralPublic: i.publicKey, transcript: transcriptHash() });
    fc.assert(
      fc.property(fc.constantFrom("s", "t", ""), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(...PT), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 40 }), (sessionId, sequence, payloadType, payload, mac) =>
        typed(() => s.open(create(SessionEnvelopeSchema, { sessionId, sequence, payloadType, payload, mac }))),
      ),
      RUNS,
    );
  });

  it("verifyEd25519 returns false (never throws) for arbitrary keys and signatures", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.uint8Array({ maxLength: 70 }), fc.uint8Array({ maxLength: 64 }), (pk, sig, msg) => {
        expect(verifyEd25519(pk, msg, sig)).toBe(false);
      }),
      RUNS,
    );
  });

  it("pinning and key agreement with arbitrary keys", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 30, maxLength: 33 }), (pk) => {
        const pins = new PinnedKeys();
        const eph = createEphemeral();
        return (
          typed(() => pins.pin("x", pk)) &&
          typed(() => deriveSession({ role: "initiator", sessionId: "s", ourEphemeralPrivate: eph.privateKey, theirEphemeralPublic: pk, transcript: transcriptHash() }))
        );
      }),
      RUNS,
    );
  });

  it("base64url accepts only canonical text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          expect(toBase64Url(fromBase64Url(text))).toBe(text);
        } catch (e) {
          expect(e).toBeInstanceOf(FleetError);
        }
      }),
      RUNS,
    );
    expect(() => fromBase64Url("QQ==")).toThrow(FleetError);
    expect(() => fromBase64Url("QR")).toThrow(FleetError); // non-zero trailing bits
    expect(fromBase64Url("QQ")).toEqual(Uint8Array.of(0x41));
  });
});
