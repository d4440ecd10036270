// An Ed25519 key in the nkeys text forms NATS uses (spec/nats-auth.md "Identity"): RFC 4648
// base32 (upper case, no padding) of a prefix, the 32 key bytes and a CRC-16/XMODEM of both,
// little-endian. A user's public key starts with "U", its seed with "SU". runtime/nats/nkey.ts
// logs in with it; fixtures/nkeys.json has the vectors; tests/nats/nkey.test.ts checks them
// against nkeys.js (the copy nats.js ships).
import { ErrorCode, FleetError } from "../errors.js";
import { wipe } from "./bytes.js";
import { assertValidPublicKey } from "./ed25519.js";
import { exportSeed, identityFromSeed, type Identity } from "./identity.js";
import { base32 } from "./keyid.js";

/** nkeys prefix bytes: the first base32 character of the text form. */
const PREFIX_USER = 20 << 3; // "U"
const PREFIX_SEED = 18 << 3; // "S"

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** CRC-16/XMODEM (polynomial 0x1021, initial 0), as nkeys uses. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function withCrc(raw: Uint8Array): string {
  const out = new Uint8Array(raw.length + 2);
  out.set(raw);
  const c = crc16(raw);
  out[raw.length] = c & 0xff;
  out[raw.length + 1] = c >>> 8;
  const text = base32(out).toUpperCase();
  wipe(out);
  return text;
}

function fromBase32(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "nkey: not base32");
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** Decodes a text form and checks its CRC: the raw bytes before the CRC. */
function decode(text: string): Uint8Array {
  const raw = fromBase32(text);
  if (raw.length < 3) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "nkey: too short");
  const body = raw.subarray(0, raw.length - 2);
  const crc = raw[raw.length - 2] | (raw[raw.length - 1] << 8);
  if (crc16(body) !== crc) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "nkey: checksum mismatch");
  return body;
}

/** The NATS user public key ("U" + 55 characters) of an Ed25519 public key. */
export function userNkey(publicKey: Uint8Array): string {
  assertValidPublicKey(publicKey);
  const raw = new Uint8Array(33);
  raw[0] = PREFIX_USER;
  raw.set(publicKey, 1);
  return withCrc(raw);
}

/** The Ed25519 public key inside a user nkey; 606 for anything else. */
export function publicKeyOfUserNkey(nkey: string): Uint8Array {
  const raw = decode(nkey);
  if (raw.length !== 33 || raw[0] !== PREFIX_USER) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "not a NATS user public key (U...)");
  return raw.slice(1);
}

/**
 * The identity's seed as a NATS user seed ("SU..."), for tools that take a seed file (the
 * `nats` CLI's --nkey). A secret: write it 0600, never print or log it. Only identities made
 * here have an exportable seed (606 otherwise); a WebCrypto non-extractable key has none.
 */
export function userSeed(identity: Identity): string {
  const seed = exportSeed(identity);
  const raw = new Uint8Array(34);
  raw[0] = PREFIX_SEED | (PREFIX_USER >> 5);
  raw[1] = (PREFIX_USER & 31) << 3;
  raw.set(seed, 2);
  wipe(seed);
  const text = withCrc(raw);
  wipe(raw);
  return text;
}

/** The identity a user seed ("SU...") holds, named agent. */
export function identityFromUserSeed(agent: string, text: string): Identity {
  const raw = decode(text.trim());
  const prefix = ((raw[0] & 7) << 5) | (raw[1] >> 3);
  if (raw.length !== 34 || (raw[0] & 0xf8) !== PREFIX_SEED || prefix !== PREFIX_USER) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "not a NATS user seed (SU...)");
  }
  const id = identityFromSeed(agent, raw.subarray(2));
  wipe(raw);
  return id;
}
