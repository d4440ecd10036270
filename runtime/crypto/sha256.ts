// SHA-256 and HKDF-SHA256 for the handshake's hot path (key ids, the session transcript, the
// session keys): node:crypto when present (a few µs each), @noble/hashes otherwise (browsers).
// Same bytes either way (tests/crypto/sha256.test.ts checks both against each other).
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { getNodeCrypto } from "./node-crypto.js";

/** SHA-256 of msg. */
export function sha256(msg: Uint8Array): Uint8Array {
  const nc = getNodeCrypto();
  if (!nc) return nobleSha256(msg);
  const b = nc.createHash("sha256").update(msg).digest();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** HKDF-SHA256 (RFC 5869): `length` bytes from ikm, salt and info. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const nc = getNodeCrypto();
  if (!nc) return hkdf(nobleSha256, ikm, salt, info, length);
  return new Uint8Array(nc.hkdfSync("sha256", ikm, salt, info, length));
}
