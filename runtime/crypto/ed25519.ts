// Ed25519 (RFC 8032, pure) behind one interface with three backends: node:crypto
// KeyObjects (fast, sync), WebCrypto (browsers, async only), @noble/ed25519 (fallback).
// All backends give one verdict on every input (spec/signing.md "Ed25519 verification"):
// the same pre-checks (64-byte signature, S < L, A a canonical encoding of a point not of
// small order, R not an encoding of a small-order point) and then the cofactorless equation
// encode([S]B - [k]A) == R, as OpenSSL and libsodium verify. node:crypto (OpenSSL) and
// WebCrypto (OpenSSL on Node, BoringSSL in Chromium) are cofactorless themselves; @noble's
// verify is cofactored, so the noble path checks the cofactorless equation itself.
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { ErrorCode, FleetError } from "../errors.js";
import { concatBytes, toBase64Url } from "./bytes.js";
import { getNodeCrypto } from "./node-crypto.js";
import type { WebCryptoBytes, WebCryptoKey } from "./webcrypto-types.js";

ed.hashes.sha512 = sha512;

export const ED25519_SIG_BYTES = 64;
export const ED25519_KEY_BYTES = 32;

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
// The group order L, little-endian, as S appears in a signature.
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function numberLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

// The y coordinates (mod p) of the eight small-order points: 1 (identity), p - 1 (order 2),
// 0 (order 4) and +-y8 (order 8). An encoding whose y, sign bit ignored and reduced mod p, is one
// of these names a small-order point (canonically or not): libsodium's blocklist, as arithmetic.
const Y8 = numberLE(Uint8Array.from([
  0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
  0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
]));
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

/** True when the 32 bytes encode (canonically or not) a point of small order. */
export function isSmallOrderEncoding(point: Uint8Array): boolean {
  const y = numberLE(point) & ((1n << 255n) - 1n);
  return SMALL_ORDER_Y.has(y >= P ? y - P : y);
}

export const pkcs8FromSeed = (seed: Uint8Array) => concatBytes(PKCS8_PREFIX, seed);
export const spkiFromPublicKey = (pk: Uint8Array) => concatBytes(SPKI_PREFIX, pk);

/** True when S (the signature's second half) is below the group order (RFC 8032 §5.1.7). */
export function isCanonicalS(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i];
    if (s !== L_LE[i]) return s < L_LE[i];
  }
  return false;
}

// Validated public keys and their node KeyObjects, keyed by the raw bytes as latin1 text.
// Bounded: the oldest entry goes when full. `null` marks a key that failed validation.
// validKeys: the keys assertValidPublicKey accepted, bounded the same way.
type NodeKey = import("node:crypto").KeyObject;
export const MAX_CACHED_KEYS = 4096;
const keyCache = new Map<string, NodeKey | true | null>();
const validKeys = new Set<string>();

/** How many keys each cache holds now (tests check the bound). */
export function cachedKeyCounts(): { prepared: number; validated: number } {
  return { prepared: keyCache.size, validated: validKeys.size };
}

/** Throws 606 unless pk is a canonical encoding of a point of large order. */
export function assertValidPublicKey(pk: Uint8Array): void {
  if (!(pk instanceof Uint8Array) || pk.length !== ED25519_KEY_BYTES) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `Ed25519 public key must be ${ED25519_KEY_BYTES} bytes`);
  }
  // A key that passed before passes again (the check is a pure function of the bytes): a hub
  // key every reconnection pins afresh, or an agent's key pinned and re-pinned, costs one
  // point decompression (~0.2 ms) per process, not one per handshake.
  const k = cacheKey(pk);
  if (validKeys.has(k)) return;
  let point: ed.Point;
  try {
    point = ed.Point.fromBytes(pk, false);
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "Ed25519 public key is not a canonical curve point", { cause: e });
  }
  if (point.isSmallOrder()) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "Ed25519 public key has small order");
  if (validKeys.size >= MAX_CACHED_KEYS) validKeys.delete(validKeys.values().next().value as string);
  validKeys.add(k);
}

export function assertValidSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "Ed25519 seed must be 32 bytes");
  }
}

function cacheKey(pk: Uint8Array): string {
  let s = "";
  for (let i = 0; i < pk.length; i++) s += String.fromCharCode(pk[i]);
  return s;
}

function remember(k: string, v: NodeKey | true | null): void {
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(k, v);
}

/**
 * The checks of assertValidPublicKey that need no point arithmetic: 32 bytes, y below p (a
 * canonical encoding: x = 0 with the sign bit set is only possible for y = +-1, both small
 * order) and not the encoding of a small-order point.
 */
function canonicalLargeOrderEncoding(pk: Uint8Array): boolean {
  if (pk.length !== ED25519_KEY_BYTES) return false;
  const y = numberLE(pk) & ((1n << 255n) - 1n);
  return y < P && !SMALL_ORDER_Y.has(y);
}

/**
 * A validated public key in the form the active backend wants; null when invalid.
 * On node:crypto the key is imported from JWK (about 10 µs; OpenSSL's DER decoder lookup
 * costs ~0.1 ms), and of assertValidPublicKey only the arithmetic-free checks run here
 * (canonicalLargeOrderEncoding): whether y names a curve point at all, OpenSSL decides in
 * every verify (ossl_ed25519_verify decodes A first and fails on a non-square), so an
 * off-curve key is invalid there too, without @noble's square root (~0.2 ms) per new key.
 * The other backends run assertValidPublicKey in full. Cached either way (keyCache).
 */
function preparedKey(pk: Uint8Array): NodeKey | true | null {
  if (pk.length !== ED25519_KEY_BYTES) return null;
  const k = cacheKey(pk);
  const hit = keyCache.get(k);
  if (hit !== undefined) return hit;
  let value: NodeKey | true | null;
  try {
    const nc = getNodeCrypto();
    if (nc) {
      value = canonicalLargeOrderEncoding(pk) ? nc.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: toBase64Url(pk) }, format: "jwk" }) : null;
    } else {
      assertValidPublicKey(pk);
      value = true;
    }
  } catch {
    value = null;
  }
  remember(k, value);
  return value;
}

/** The signature pre-checks every backend applies: 64 bytes, S < L, R not a small-order point. */
function shapeOk(msg: Uint8Array, sig: Uint8Array): boolean {
  return msg instanceof Uint8Array && sig instanceof Uint8Array && sig.length === ED25519_SIG_BYTES && isCanonicalS(sig) && !isSmallOrderEncoding(sig.subarray(0, 32));
}

/**
 * The cofactorless equation with @noble's point arithmetic (its own verify is cofactored):
 * k = SHA-512(R || A || M) mod L, then encode([S]B - [k]A) must equal R byte for byte (so a
 * non-canonical R never verifies). Inputs passed the pre-checks; variable time is fine here,
 * everything is public.
 */
function nobleCofactorless(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const a = ed.Point.fromBytes(publicKey, false);
  const r = sig.subarray(0, 32);
  const k = numberLE(sha512(concatBytes(r, publicKey, msg))) % L;
  const s = numberLE(sig.subarray(32));
  const check = ed.Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k)).toBytes();
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= check[i] ^ r[i];
  return diff === 0;
}

/** Verifies with the fastest synchronous backend. Never throws: bad input is simply invalid. */
export function verifyEd25519(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !shapeOk(msg, sig)) return false;
  const key = preparedKey(publicKey);
  if (key === null) return false;
  try {
    const nc = getNodeCrypto();
    if (nc && key !== true) return nc.verify(null, msg, key, sig);
    return nobleCofactorless(publicKey, msg, sig);
  } catch {
    return false;
  }
}

/** Verifies with node:crypto, else WebCrypto, else noble. Never rejects. */
export async function verifyEd25519Async(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (getNodeCrypto()) return verifyEd25519(publicKey, msg, sig);
  if (!(publicKey instanceof Uint8Array) || !shapeOk(msg, sig) || preparedKey(publicKey) === null) return false;
  try {
    if (await webCryptoHasEd25519()) return await webCryptoBackend.verify(publicKey, msg, sig);
    return nobleCofactorless(publicKey, msg, sig);
  } catch {
    return false;
  }
}

/** A signing function for one seed, using the fastest synchronous backend available now. */
export function syncSigner(seed: Uint8Array): (msg: Uint8Array) => Uint8Array {
  assertValidSeed(seed);
  const nc = getNodeCrypto();
  if (nc) {
    const key = nc.createPrivateKey({ key: Buffer.from(pkcs8FromSeed(seed)), format: "der", type: "pkcs8" });
    return (msg) => {
      const b = nc.sign(null, msg, key);
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    };
  }
  const copy = seed.slice();
  return (msg) => ed.sign(msg, copy);
}

/** An async signing function: node:crypto, else WebCrypto, else noble. */
export function asyncSigner(seed: Uint8Array): (msg: Uint8Array) => Promise<Uint8Array> {
  if (getNodeCrypto()) {
    const sign = syncSigner(seed);
    return async (msg) => sign(msg);
  }
  const copy = seed.slice();
  let webKey: Promise<WebCryptoKey> | undefined;
  return async (msg) => {
    if (await webCryptoHasEd25519()) {
      webKey ??= webCryptoImportSeed(copy);
      return new Uint8Array(await globalThis.crypto.subtle.sign("Ed25519", await webKey, msg as WebCryptoBytes));
    }
    return ed.signAsync(msg, copy);
  };
}

export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  assertValidSeed(seed);
  const nc = getNodeCrypto();
  if (nc) {
    const priv = nc.createPrivateKey({ key: Buffer.from(pkcs8FromSeed(seed)), format: "der", type: "pkcs8" });
    const der = nc.createPublicKey(priv).export({ format: "der", type: "spki" });
    return new Uint8Array(der.subarray(der.length - 32));
  }
  return ed.getPublicKey(seed);
}

// --- WebCrypto (browsers; also present on Node, which the backend test uses) ---

let webCryptoProbe: Promise<boolean> | undefined;

export function webCryptoHasEd25519(): Promise<boolean> {
  webCryptoProbe ??= (async () => {
    try {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) return false;
      await subtle.importKey("raw", spkiProbeKey() as WebCryptoBytes, "Ed25519", false, ["verify"]);
      return true;
    } catch {
      return false;
    }
  })();
  return webCryptoProbe;
}

function spkiProbeKey(): Uint8Array {
  // The RFC 8032 test 1 public key: any valid point will do for feature detection.
  const hex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

// Imported WebCrypto verify keys, bounded like keyCache.
const webKeyCache = new Map<string, Promise<WebCryptoKey>>();

function webCryptoPublicKey(pk: Uint8Array): Promise<WebCryptoKey> {
  const k = cacheKey(pk);
  let key = webKeyCache.get(k);
  if (!key) {
    if (webKeyCache.size >= MAX_CACHED_KEYS) webKeyCache.delete(webKeyCache.keys().next().value as string);
    key = globalThis.crypto.subtle.importKey("raw", pk.slice() as WebCryptoBytes, "Ed25519", false, ["verify"]);
    webKeyCache.set(k, key);
  }
  return key;
}

function webCryptoImportSeed(seed: Uint8Array): Promise<WebCryptoKey> {
  return globalThis.crypto.subtle.importKey("pkcs8", pkcs8FromSeed(seed) as WebCryptoBytes, "Ed25519", false, ["sign"]);
}

export interface Ed25519Backend {
  name: "node" | "webcrypto" | "noble";
  available(): Promise<boolean>;
  publicKey(seed: Uint8Array): Promise<Uint8Array>;
  sign(seed: Uint8Array, msg: Uint8Array): Promise<Uint8Array>;
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean>;
}

const nodeBackend: Ed25519Backend = {
  name: "node",
  available: async () => getNodeCrypto() !== undefined,
  publicKey: async (seed) => publicKeyFromSeed(seed),
  sign: async (seed, msg) => syncSigner(seed)(msg),
  verify: async (pk, msg, sig) => verifyEd25519(pk, msg, sig),
};

const webCryptoBackend: Ed25519Backend = {
  name: "webcrypto",
  available: webCryptoHasEd25519,
  async publicKey(seed) {
    const priv = await globalThis.crypto.subtle.importKey("pkcs8", pkcs8FromSeed(seed) as WebCryptoBytes, "Ed25519", true, ["sign"]);
    const jwk = await globalThis.crypto.subtle.exportKey("jwk", priv);
    return Uint8Array.from(atob(jwk.x!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  },
  sign: async (seed, msg) => new Uint8Array(await globalThis.crypto.subtle.sign("Ed25519", await webCryptoImportSeed(seed), msg as WebCryptoBytes)),
  async verify(pk, msg, sig) {
    if (!shapeOk(msg, sig) || preparedKey(pk) === null) return false;
    return globalThis.crypto.subtle.verify("Ed25519", await webCryptoPublicKey(pk), sig as WebCryptoBytes, msg as WebCryptoBytes);
  },
};

const nobleBackend: Ed25519Backend = {
  name: "noble",
  available: async () => true,
  publicKey: async (seed) => ed.getPublicKey(seed),
  sign: async (seed, msg) => ed.sign(msg, seed),
  verify: async (pk, msg, sig) => {
    if (!shapeOk(msg, sig) || preparedKey(pk) === null) return false;
    try {
      return nobleCofactorless(pk, msg, sig);
    } catch {
      return false;
    }
  },
};

/** Every backend, for cross-checking tests and the bench. */
export const ed25519Backends: readonly Ed25519Backend[] = [nodeBackend, webCryptoBackend, nobleBackend];
