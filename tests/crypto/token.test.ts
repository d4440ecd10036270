import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TokenSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import fc from "fast-check";
import { FakeClock } from "../../runtime/clock.js";
import { issueToken, MemoryTokenUseStore, StaticKeys, toBase64Url, verifyToken } from "../../runtime/crypto/index.js";
import { fromBase64Url } from "../../runtime/crypto/bytes.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { alice, bob, T0, errorCode } from "./helpers.js";

const keys = new StaticKeys([alice, bob]);
const audience = "hub:127.0.0.1:7420";


describe("tokens", () => {
  it("issues and verifies with audience, scope and subject", () => {
    const clock = new FakeClock(T0);
    const text = issueToken({ audience, scopes: ["hub:connect"], subject: "agent-bob" }, alice, { clock });
    expect(text.startsWith("fleet1.")).toBe(true);
    const claims = verifyToken(text, { keys, audience, scope: "hub:connect", subject: "agent-bob", clock });
    expect(claims.issuer).toBe("agent-alice");
    expect(errorCode(() => verifyToken(text, { keys, audience: "group:ops", clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(errorCode(() => verifyToken(text, { keys, audience, scope: "group:join", clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(errorCode(() => verifyToken(text, { keys, audience, subject: "agent-mallory", clock }))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(errorCode(() => verifyToken(text, { keys: new StaticKeys([bob]), audience, clock }))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
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
