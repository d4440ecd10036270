// HMAC-SHA256: node:crypto when present (fast), @noble/hashes otherwise (browsers).
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keyIdFor } from "./keyid.js";
import { getNodeCrypto } from "./node-crypto.js";

export const HMAC_SIG_BYTES = 32;

import { ErrorCode, FleetError } from "../errors.js";

export const MIN_SHARED_SECRET_BYTES = 32;

/** 606 unless the shared secret is at least 32 bytes (a guessable secret makes every HMAC forgeable). */
export function assertSharedSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length < MIN_SHARED_SECRET_BYTES) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `shared secret must be at least ${MIN_SHARED_SECRET_BYTES} bytes`);
  }
}

export function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const nc = getNodeCrypto();
  if (nc) {
    const b = nc.createHmac("sha256", key).update(msg).digest();
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  }
  return hmac(sha256, key, msg);
}

/** "hmac:" + base32(SHA-256(secret)[0..20]) (spec/signing.md): names the secret without revealing it. */
export function sharedSecretKeyId(secret: Uint8Array): string {
  assertSharedSecret(secret);
  return keyIdFor(secret, "hmac");
}

/** A reusable HMAC-SHA256 for one key over chunked input (session MACs: no per-call key setup, no payload copy). */
export function hmacSha256Keyed(key: Uint8Array): (chunks: Uint8Array[]) => Uint8Array {
  const nc = getNodeCrypto();
  if (nc) {
    const keyObject = nc.createSecretKey(key);
    return (chunks) => {
      const h = nc.createHmac("sha256", keyObject);
      for (const c of chunks) h.update(c);
      const b = h.digest();
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    };
  }
  const copy = key.slice();
  return (chunks) => {
    const h = hmac.create(sha256, copy);
    for (const c of chunks) h.update(c);
    return h.digest();
  };
}
