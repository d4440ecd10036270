import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TokenSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import fc from "fast-check";
import { FakeClock } from "../../runtime/clock.js";
import { TokenClaimsSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import { issueToken, MemoryTokenUseStore, signTokenClaims, StaticKeys, toBase64Url, verifyToken } from "../../runtime/crypto/index.js";
import { fromBase64Url } from "../../runtime/crypto/bytes.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { alice, bob, mallory, T0, errorCode } from "./helpers.js";

const keys = new StaticKeys([alice, bob]);
// The verifier is alice: her audience names her own key, and only her key issues for it.
const audience = `hub:${alice.keyId}`;


describe("tokens", () => {
  it("issues and verifies with audience, scope and subject", () => {
    const clock = new FakeClock(T0);
    const text = issueToken({ audience, scopes: ["hub:connect"], subject: "agent-bob", holderKeyId: bob.keyId }, alice, { clock });
    expect(text.startsWith("fleet1.")).toBe(true);
    const claims = verifyToken(text, { keys, audience, scope: "hub:connect", subject: "agent-bob", holderKeyId: bob.keyId, clock });
    expect(claims.issuer).toBe("agent-alice");
    expect(errorCode(() => verifyToken(text, { keys, audience: `group:${alice.keyId}`, holderKeyId: bob.keyId, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(errorCode(() => verifyToken(text, { keys, audience, scope: "group:join", holderKeyId: bob.keyId, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(errorCode(() => verifyToken(text, { keys, audience, subject: "agent-mallory", holderKeyId: bob.keyId, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(errorCode(() => verifyToken(text, { keys: new StaticKeys([bob]), audience, holderKeyId: bob.keyId, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("trusts only the key its audience names: a pinned agent cannot mint tokens for another verifier", () => {
    const clock = new FakeClock(T0);
    // bob is pinned and signs a well-formed admission token for alice's audience.
    const claims = create(TokenClaimsSchema, { tokenId: "t1", issuer: "agent-bob", audience, scopes: ["hub:connect"], subject: "agent-bob", holderKeyId: bob.keyId, issuedAt: timestampFromMs(T0), expiresAt: timestampFromMs(T0 + 60_000) });
    const forged = signTokenClaims(claims, bob);
    const e = (() => {
      try {
        verifyToken(forged, { keys, audience, holderKeyId: bob.keyId, clock });
      } catch (err) {
        return err as FleetError;
      }
    })();
    expect(e?.code).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(e?.pointer).toBe("/signature/keyId");
    // issueToken refuses an audience that is not the issuer's own key.
    expect(errorCode(() => issueToken({ audience, scopes: ["s"] }, bob))).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
    expect(errorCode(() => issueToken({ audience: "hub:127.0.0.1:7420", scopes: ["s"] }, alice))).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
    // A verifier whose audience names no key id cannot be configured.
    const ok = issueToken({ audience, scopes: ["s"] }, alice, { clock });
    expect(errorCode(() => verifyToken(ok, { keys, audience: "hub:127.0.0.1:7420", clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
  });

  it("binds admission tokens to the holder's key: a captured copy admits no one else", () => {
    const clock = new FakeClock(T0);
    expect(errorCode(() => issueToken({ audience, scopes: ["hub:connect"], subject: "agent-bob" }, alice, { clock }))).toBe(ErrorCode.VALIDATION_MISSING_FIELD);
    const text = issueToken({ audience, scopes: ["hub:connect"], subject: "agent-bob", holderKeyId: bob.keyId }, alice, { clock });
    expect(verifyToken(text, { keys, audience, subject: "agent-bob", holderKeyId: bob.keyId, clock }).holderKeyId).toBe(bob.keyId);
    // mallory presents bob's token under bob's name with her own key.
    expect(errorCode(() => verifyToken(text, { keys, audience, subject: "agent-bob", holderKeyId: mallory.keyId, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    // A verifier that does not know who presents refuses a holder-bound token.
    expect(errorCode(() => verifyToken(text, { keys, audience, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    // An admission token without a holder (signed outside issueToken) is refused.
    const unbound = signTokenClaims(create(TokenClaimsSchema, { tokenId: "t2", issuer: "agent-alice", audience, scopes: ["hub:connect"], issuedAt: timestampFromMs(T0), expiresAt: timestampFromMs(T0 + 60_000) }), alice);
    expect(errorCode(() => verifyToken(unbound, { keys, audience, holderKeyId: bob.keyId, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
  });

  it("expires with skew, and is not valid before not_before (with skew)", () => {
    const clock = new FakeClock(T0);
    const text = issueToken({ audience, scopes: ["s"], notBefore: timestampFromMs(T0 + 600_000) }, alice, { clock, ttlMs: 3_600_000 });
    expect(errorCode(() => verifyToken(text, { keys, audience, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    clock.advance(600_000 - 120_000);
    expect(verifyToken(text, { keys, audience, clock }).audience).toBe(audience);
    clock.advance(3_600_000 + 120_000 - 1 - 480_000);
    expect(verifyToken(text, { keys, audience, clock }).audience).toBe(audience); // within skew after expiry
    clock.advance(1);
    expect(errorCode(() => verifyToken(text, { keys, audience, clock }))).toBe(ErrorCode.SECURITY_TOKEN_EXPIRED);
  });

  it("enforces max_uses through the store, and refuses limited tokens without one", () => {
    const clock = new FakeClock(T0);
    const uses = new MemoryTokenUseStore(clock);
    const text = issueToken({ audience, scopes: ["group:join"], maxUses: 2 }, alice, { clock });
    expect(errorCode(() => verifyToken(text, { keys, audience, clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    verifyToken(text, { keys, audience, clock, uses });
    // A failed check (wrong scope) does not use it up.
    expect(errorCode(() => verifyToken(text, { keys, audience, clock, uses, scope: "other" }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    verifyToken(text, { keys, audience, clock, uses });
    expect(errorCode(() => verifyToken(text, { keys, audience, clock, uses }))).toBe(ErrorCode.SECURITY_TOKEN_USED);
  });

  it("601 for tampering, padding, foreign prefixes, truncation and non-canonical encodings", () => {
    const clock = new FakeClock(T0);
    const text = issueToken({ audience, scopes: ["s"] }, alice, { clock });
    const body = text.slice("fleet1.".length);
    const bytes = fromBase64Url(body);
    for (let i = 0; i < bytes.length; i += 7) {
      const t = bytes.slice();
      t[i] ^= 0x10;
      expect([ErrorCode.SECURITY_SIGNATURE_INVALID, ErrorCode.SECURITY_KEY_MISMATCH]).toContain(errorCode(() => verifyToken("fleet1." + toBase64Url(t), { keys, audience, clock })));
    }
    expect(errorCode(() => verifyToken(text + "=", { keys, audience, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => verifyToken(text.slice(0, -3), { keys, audience, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => verifyToken("eyJhbGciOiJub25lIn0.e30.", { keys, audience, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => verifyToken(body.replace(/[A-Za-z]/, "+"), { keys, audience, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // The same bytes with a duplicated (non-canonical) field still decode in protobuf, but are refused.
    const token = fromBinary(TokenSchema, bytes);
    const dup = new Uint8Array([...toBinary(TokenSchema, create(TokenSchema, { claims: token.claims })), ...bytes]);
    expect(fromBinary(TokenSchema, dup).claims).toEqual(token.claims);
    expect(errorCode(() => verifyToken("fleet1." + toBase64Url(dup), { keys, audience, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(errorCode(() => issueToken({ audience: "", scopes: ["s"] }, alice))).toBe(ErrorCode.VALIDATION_MISSING_FIELD);
    expect(errorCode(() => issueToken({ audience, scopes: ["s"], issuer: "agent-bob" }, alice))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
  });

  it("garbage never escapes as anything but a FleetError (bounded property)", () => {
    const clock = new FakeClock(T0);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => "fleet1." + toBase64Url(b))), (s) => {
        try {
          verifyToken(s, { keys, audience, clock });
          return false;
        } catch (e) {
          return e instanceof FleetError && e.code > 0;
        }
      }),
      { numRuns: 500, seed: 42 },
    );
  });
});
