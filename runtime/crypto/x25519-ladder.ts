// X25519 where neither node:crypto nor WebCrypto has it: RFC 7748 section 5, word for word
// (decodeScalar25519, decodeUCoordinate, the Montgomery ladder with a conditional swap,
// encodeUCoordinate). Field arithmetic is BigInt modulo 2^255 - 19; the inverse is
// @noble/ed25519's. Checked against RFC 7748's vectors (section 5.2, the 1 / 1,000 iteration
// vectors, section 6.1) and against node:crypto and @noble/curves on random keys
// (tests/crypto/x25519-ladder.test.ts). It replaces @noble/curves, which kept 1.5 MiB of
// other curves in every core install for these forty lines.
//
// Like every JavaScript BigInt implementation it is not constant-time; it is the fallback of
// last resort (a browser without WebCrypto X25519 needing a synchronous agreement).
import { etc } from "@noble/ed25519";

const P = 2n ** 255n - 19n;
const A24 = 121665n;
const mod = (a: bigint): bigint => {
  const r = a % P;
  return r >= 0n ? r : r + P;
};

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function decodeScalar(k: Uint8Array): bigint {
  const b = k.slice();
  b[0]! &= 248;
  b[31]! &= 127;
  b[31]! |= 64;
  return littleEndian(b);
}

/** The u-coordinate: the top bit masked, values >= p accepted and reduced (RFC 7748 section 5). */
function decodeU(u: Uint8Array): bigint {
  const b = u.slice();
  b[31]! &= 127;
  return mod(littleEndian(b));
}

function encodeU(u: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let n = mod(u);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** cswap from RFC 7748: the mask form, so both branches do the same arithmetic. */
function cswap(swap: bigint, a: bigint, b: bigint): [bigint, bigint] {
  const dummy = (0n - swap) & (a ^ b);
  return [a ^ dummy, b ^ dummy];
}

/** X25519(k, u): 32-byte scalar, 32-byte u-coordinate, 32-byte result. */
export function x25519Ladder(scalar: Uint8Array, uCoordinate: Uint8Array): Uint8Array {
  const k = decodeScalar(scalar);
  const x1 = decodeU(uCoordinate);
  let x2 = 1n, z2 = 0n, x3 = x1, z3 = 1n, swap = 0n;
  for (let t = 254n; t >= 0n; t--) {
    const kt = (k >> t) & 1n;
    swap ^= kt;
    [x2, x3] = cswap(swap, x2, x3);
    [z2, z3] = cswap(swap, z2, z3);
    swap = kt;
    const a = mod(x2 + z2), aa = mod(a * a), b = mod(x2 - z2), bb = mod(b * b), e = mod(aa - bb);
    const c = mod(x3 + z3), d = mod(x3 - z3), da = mod(d * a), cb = mod(c * b);
    x3 = mod((da + cb) ** 2n);
    z3 = mod(x1 * mod((da - cb) ** 2n));
    x2 = mod(aa * bb);
    z2 = mod(e * (aa + mod(A24 * e)));
  }
  [x2, x3] = cswap(swap, x2, x3);
  [z2, z3] = cswap(swap, z2, z3);
  // z2 = 0 (a small-order u) gives 0: the caller refuses an all-zero shared secret.
  return encodeU(z2 === 0n ? 0n : mod(x2 * etc.invert(z2, P)));
}

const BASE = encodeU(9n);

/** The public key of a 32-byte private key: X25519(k, 9). */
export function x25519LadderPublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519Ladder(privateKey, BASE);
}
