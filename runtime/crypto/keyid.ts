// Key ids (spec/signing.md): "ed25519:" + base32(SHA-256(public key)[0..20]).
// Short, case-stable, and derivable by any implementation from the key alone.
import { sha256 } from "./sha256.js";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** RFC 4648 base32, lower-case, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function keyIdFor(publicKey: Uint8Array, prefix: "ed25519" | "hmac" = "ed25519"): string {
  return `${prefix}:${base32(sha256(publicKey).subarray(0, 20))}`;
}
