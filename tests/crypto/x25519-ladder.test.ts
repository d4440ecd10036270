// The RFC 7748 ladder (the X25519 of last resort, runtime/crypto/x25519-ladder.ts) against
// RFC 7748's own vectors and against two independent implementations: node:crypto (OpenSSL)
// and @noble/curves (a dev dependency kept for this check only).
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import * as nodeCrypto from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { x25519PublicKey, x25519SharedSecret } from "../../runtime/crypto/index.js";
import { fromHex, toHex } from "../../runtime/crypto/bytes.js";
import { setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { x25519Ladder, x25519LadderPublicKey } from "../../runtime/crypto/x25519-ladder.js";
import { ErrorCode } from "../../runtime/errors.js";

afterEach(() => setNodeCryptoDisabled(false));

function nodeShared(priv: Uint8Array, pub: Uint8Array): string {
  const privateKey = nodeCrypto.createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: Buffer.from(priv).toString("base64url"), x: Buffer.from(x25519LadderPublicKey(priv)).toString("base64url") }, format: "jwk" });
  const publicKey = nodeCrypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(pub).toString("base64url") }, format: "jwk" });
  return nodeCrypto.diffieHellman({ privateKey, publicKey }).toString("hex");
}

describe("X25519 ladder (RFC 7748)", () => {
  it("section 5.2: the two scalar-multiplication vectors (a u-coordinate with the top bit set is masked)", () => {
    expect(toHex(x25519Ladder(
      fromHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
      fromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
    ))).toBe("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    expect(toHex(x25519Ladder(
      fromHex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
      fromHex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
    ))).toBe("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
  });

  it("section 5.2: k = u = 9, iterated 1 and 1,000 times", () => {
    let k = fromHex("0900000000000000000000000000000000000000000000000000000000000000");
    let u = k;
    for (let i = 1; i <= 1000; i++) {
      const next = x25519Ladder(k, u);
      u = k;
      k = next;
      if (i === 1) expect(toHex(k)).toBe("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
    expect(toHex(k)).toBe("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
  });

  it("section 6.1: both public keys and the shared secret, also through x25519SharedSecret without node:crypto", () => {
    const alice = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const bob = fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    expect(toHex(x25519LadderPublicKey(alice))).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    expect(toHex(x25519LadderPublicKey(bob))).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    setNodeCryptoDisabled(true);
    const shared = toHex(x25519SharedSecret(alice, x25519PublicKey(bob)));
    expect(shared).toBe("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    expect(toHex(x25519SharedSecret(bob, x25519PublicKey(alice)))).toBe(shared);
  });

  it("agrees with node:crypto and @noble/curves on random keys and random u-coordinates (twist points included)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (priv, u) => {
        const ours = toHex(x25519Ladder(priv, u));
        expect(ours).toBe(toHex(nobleX25519.scalarMult(priv, u)));
        const pub = x25519LadderPublicKey(u);
        expect(toHex(x25519Ladder(priv, pub))).toBe(nodeShared(priv, pub));
      }),
      { numRuns: 60 },
    );
  });

  it("a small-order peer key gives the all-zero secret, which the agreement refuses (606)", () => {
    setNodeCryptoDisabled(true);
    const zero = new Uint8Array(32);
    const one = fromHex("0100000000000000000000000000000000000000000000000000000000000000");
    const priv = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    expect(toHex(x25519Ladder(priv, zero))).toBe("00".repeat(32));
    for (const bad of [zero, one]) {
      expect(() => x25519SharedSecret(priv, bad)).toThrow(expect.objectContaining({ code: ErrorCode.SECURITY_MALFORMED_KEY }));
    }
  });
});
