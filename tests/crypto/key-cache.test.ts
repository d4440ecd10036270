// The handshake's per-key costs, paid once per key and bounded: an Ed25519 verify key is
// imported into node:crypto once (from JWK) and kept in a bounded cache; a key that passed
// assertValidPublicKey is remembered (bounded) instead of decompressed again; an identity's
// async signer reuses its KeyObject; SHA-256 and HKDF on node:crypto give @noble's bytes.
import * as realNodeCrypto from "node:crypto";
import * as ed from "@noble/ed25519";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { afterEach, describe, expect, it } from "vitest";
import { assertValidPublicKey, cachedKeyCounts, ed25519Backends, MAX_CACHED_KEYS, verifyEd25519 } from "../../runtime/crypto/ed25519.js";
import { fromHex, toHex } from "../../runtime/crypto/bytes.js";
import { generateIdentity, identityFromSeed } from "../../runtime/crypto/index.js";
import { getNodeCrypto, registerNodeCrypto, setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { hkdfSha256, sha256 } from "../../runtime/crypto/sha256.js";
import { seed } from "./helpers.js";

const original = getNodeCrypto()!;
afterEach(() => {
  registerNodeCrypto(original);
  setNodeCryptoDisabled(false);
});

/** Registers a node:crypto that records every key import (the costs the caches avoid). */
function countImports(): { publicKeys: unknown[]; privateKeys: number } {
  const seen = { publicKeys: [] as unknown[], privateKeys: 0 };
  registerNodeCrypto({
    ...realNodeCrypto,
    createPublicKey: ((key: Parameters<typeof realNodeCrypto.createPublicKey>[0]) => {
      seen.publicKeys.push(key);
      return realNodeCrypto.createPublicKey(key);
    }) as typeof realNodeCrypto.createPublicKey,
    createPrivateKey: ((...args: Parameters<typeof realNodeCrypto.createPrivateKey>) => {
      seen.privateKeys++;
      return realNodeCrypto.createPrivateKey(...args);
    }) as typeof realNodeCrypto.createPrivateKey,
  });
  return seen;
}

const msg = new TextEncoder().encode("verified once, imported once");

/** A 32-byte encoding, y < p and not of small order, that names no curve point (found by @noble). */
function offCurveKey(): Uint8Array {
  for (let y = 2; ; y++) {
    const pk = new Uint8Array(32);
    pk[0] = y & 0xff;
    pk[1] = y >> 8;
    try {
      ed.Point.fromBytes(pk, false);
    } catch {
      return pk;
    }
  }
}

describe("Ed25519 verify keys on node:crypto", () => {
  it("imports a key once, from JWK, however many signatures it verifies", () => {
    const id = generateIdentity("once");
    const sig = id.sign(msg);
    const imports = countImports();
    for (let i = 0; i < 5; i++) expect(verifyEd25519(id.publicKey, msg, sig)).toBe(true);
    expect(imports.publicKeys).toHaveLength(1);
    expect(imports.publicKeys[0]).toMatchObject({ format: "jwk", key: { kty: "OKP", crv: "Ed25519" } });
  });

  it("an encoding of no curve point never verifies: OpenSSL decodes the point in every verify; every backend agrees", async () => {
    const pk = offCurveKey();
    expect(() => assertValidPublicKey(pk)).toThrow(expect.objectContaining({ code: 606 }));
    const sig = generateIdentity("any").sign(msg);
    expect(verifyEd25519(pk, msg, sig)).toBe(false);
    expect(verifyEd25519(pk, msg, sig)).toBe(false); // cached, still refused
    for (const b of ed25519Backends) if (await b.available()) expect(`${b.name}: ${await b.verify(pk, msg, sig)}`).toBe(`${b.name}: false`);
  });

  it("the prepared-key and validated-key caches stay within MAX_CACHED_KEYS", () => {
    const id = generateIdentity("bound");
    const sig = id.sign(msg);
    for (let i = 0; i < MAX_CACHED_KEYS + 50; i++) {
      const pk = Buffer.from(realNodeCrypto.generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x!, "base64url");
      assertValidPublicKey(pk);
      verifyEd25519(pk, msg, sig);
    }
    const counts = cachedKeyCounts();
    expect(verifyEd25519(generateIdentity("other").publicKey, msg, sig)).toBe(false);
    expect(counts.prepared).toBe(MAX_CACHED_KEYS);
    expect(counts.validated).toBe(MAX_CACHED_KEYS);
    // The oldest went, the newest stays: a key seen again is verified afresh, correctly.
    expect(verifyEd25519(id.publicKey, msg, sig)).toBe(true);
  });
});

describe("assertValidPublicKey remembers the keys it accepted", () => {
  it("decompresses a valid key once; an invalid key is checked (and refused) every time", () => {
    const pk = identityFromSeed("v", seed(21)).publicKey;
    const bad = offCurveKey();
    const fromBytes = ed.Point.fromBytes.bind(ed.Point);
    let calls = 0;
    ed.Point.fromBytes = ((bytes: Uint8Array, zip215?: boolean) => {
      calls++;
      return fromBytes(bytes, zip215);
    }) as typeof ed.Point.fromBytes;
    try {
      for (let i = 0; i < 3; i++) assertValidPublicKey(pk);
      expect(calls).toBe(1);
      for (let i = 0; i < 3; i++) expect(() => assertValidPublicKey(bad)).toThrow(expect.objectContaining({ code: 606 }));
      expect(calls).toBe(4);
    } finally {
      ed.Point.fromBytes = fromBytes;
    }
  });
});

describe("Identity.signAsync on node:crypto", () => {
  it("signs with the identity's KeyObject: no second import of the seed", async () => {
    const imports = countImports();
    const id = identityFromSeed("signer", seed(22));
    const afterConstruction = imports.privateKeys;
    const a = await id.signAsync(msg);
    const b = await id.signAsync(msg);
    expect(imports.privateKeys).toBe(afterConstruction);
    expect(toHex(a)).toBe(toHex(id.sign(msg)));
    expect(toHex(b)).toBe(toHex(a));
  });
});

describe("SHA-256 and HKDF-SHA256: node:crypto and @noble give the same bytes", () => {
  it("matches RFC 5869 test case 1 and @noble on both paths", () => {
    const ikm = new Uint8Array(22).fill(0x0b);
    const salt = fromHex("000102030405060708090a0b0c");
    const info = fromHex("f0f1f2f3f4f5f6f7f8f9");
    const okm = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    expect(toHex(hkdfSha256(ikm, salt, info, 42))).toBe(okm);
    setNodeCryptoDisabled(true);
    expect(toHex(hkdfSha256(ikm, salt, info, 42))).toBe(okm);
    setNodeCryptoDisabled(false);
    for (const len of [0, 1, 55, 64, 1000]) {
      const data = realNodeCrypto.randomBytes(len);
      expect(toHex(sha256(data))).toBe(toHex(nobleSha256(data)));
      expect(toHex(hkdfSha256(data, salt, data, 128))).toBe(toHex(hkdf(nobleSha256, data, salt, data, 128)));
    }
    expect(toHex(sha256(new Uint8Array()))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});
