// The hot path of session traffic: Packet{session: SessionEnvelope} written and read by
// hand. The generic codec walks descriptors and validates every field, which costs more
// than the HMAC it carries; this shape is fixed and small. The output is byte-identical to
// encodePacket (tests/nats/session-packet.test.ts), and anything the reader does not
// recognise exactly falls back to the full codec, so errors stay the codec's.
// A session's id and payload type repeat in every packet: their UTF-8 forms are cached
// (a few entries), and varints stay in plain numbers below 2^53.
import type { SessionEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const CACHE = 16;

/** A few recent strings and their UTF-8 bytes, both ways (session ids and payload types repeat). */
const texts: { text: string; bytes: Uint8Array }[] = [];

function remember(text: string, bytes: Uint8Array): void {
  if (texts.length >= CACHE) texts.shift();
  texts.push({ text, bytes });
}

function encodeText(text: string): Uint8Array {
  for (let i = texts.length - 1; i >= 0; i--) if (texts[i].text === text) return texts[i].bytes;
  const bytes = utf8.encode(text);
  remember(text, bytes);
  return bytes;
}

/** Strict UTF-8 (throws on invalid bytes); a cached string when the bytes match one seen before. */
function decodeText(b: Uint8Array, from: number, to: number): string {
  const len = to - from;
  next: for (let i = texts.length - 1; i >= 0; i--) {
    const c = texts[i].bytes;
    if (c.length !== len) continue;
    for (let k = 0; k < len; k++) if (c[k] !== b[from + k]) continue next;
    return texts[i].text;
  }
  const bytes = b.slice(from, to);
  const text = strictUtf8.decode(bytes);
  remember(text, bytes);
  return text;
}

function varintSize(n: number | bigint): number {
  if (typeof n === "number") {
    let size = 1;
    while (n >= 0x80) {
      n = Math.floor(n / 128);
      size++;
    }
    return size;
  }
  let v = n;
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, n: number | bigint): number {
  if (typeof n === "number") {
    while (n >= 0x80) {
      out[at++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    out[at++] = n;
    return at;
  }
  let v = n;
  while (v >= 0x80n) {
    out[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[at++] = Number(v);
  return at;
}

const fieldSize = (len: number) => (len ? 1 + varintSize(len) + len : 0);

function writeBytes(out: Uint8Array, at: number, tag: number, b: Uint8Array): number {
  if (!b.length) return at;
  out[at++] = tag;
  at = writeVarint(out, at, b.length);
  out.set(b, at);
  return at + b.length;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const EMPTY = new Uint8Array(0);

/** Packet bytes for one SessionEnvelope, exactly as encodePacket would write them. */
export function encodeSessionPacket(se: SessionEnvelope): Uint8Array {
  // No closures here: each would be a fresh allocation per message.
  const id = encodeText(se.sessionId);
  const type = encodeText(se.payloadType);
  const big = BigInt(se.sequence);
  const seq = big <= MAX_SAFE ? Number(big) : big;
  const finished = se.finished ?? EMPTY;
  const inner = fieldSize(id.length) + (seq ? 1 + varintSize(seq) : 0) + fieldSize(type.length) + fieldSize(se.payload.length) + fieldSize(se.mac.length) + fieldSize(finished.length);
  const out = new Uint8Array(1 + varintSize(inner) + inner);
  out[0] = 0x12; // Packet.session (2), length-delimited
  let at = writeVarint(out, 1, inner);
  at = writeBytes(out, at, 0x0a, id);
  if (seq) {
    out[at++] = 0x10;
    at = writeVarint(out, at, seq);
  }
  at = writeBytes(out, at, 0x1a, type);
  at = writeBytes(out, at, 0x22, se.payload);
  at = writeBytes(out, at, 0x2a, se.mac);
  writeBytes(out, at, 0x32, finished); // key confirmation, only on the responder's first message
  return out;
}

// readVarint's result: the value (a number below 2^53, else a bigint) and the next offset.
let value: number | bigint = 0;
let next = 0;

/** Reads a varint into value/next; false when it runs past end or beyond 64 bits. */
function readVarint(b: Uint8Array, at: number, end: number): boolean {
  let v = 0;
  // Seven bytes hold 49 bits: exact in a double. Longer varints take the bigint path.
  for (let i = 0, mul = 1; i < 7 && at < end; i++, mul *= 128) {
    const byte = b[at++];
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) {
      value = v;
      next = at;
      return true;
    }
  }
  if (at >= end) return false;
  let big = BigInt(v);
  for (let shift = 49n; at < end && shift < 64n; shift += 7n) {
    const byte = b[at++];
    big |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) {
      value = big <= MAX_SAFE ? Number(big) : big;
      next = at;
      return true;
    }
  }
  return false;
}

const SEEN_ID = 1;
const SEEN_SEQ = 2;
const SEEN_TYPE = 4;
const SEEN_PAYLOAD = 8;
const SEEN_MAC = 16;

/**
 * The SessionEnvelope of a session Packet with exactly the five common fields (no `finished`), each once and
 * non-empty; undefined for anything else (signed packets, unknown fields, odd encodings),
 * which the caller hands to the full codec. payload and mac are views into b.
 */
export function decodeSessionPacket(b: Uint8Array): SessionEnvelope | undefined {
  if (b.length < 2 || b[0] !== 0x12) return undefined;
  if (!readVarint(b, 1, b.length) || typeof value !== "number" || next + value !== b.length) return undefined;
  let at = next;
  const end = b.length;
  let seen = 0;
  let sessionId = "";
  let payloadType = "";
  let payload: Uint8Array | undefined;
  let mac: Uint8Array | undefined;
  let sequence: number | bigint = 0;
  try {
    while (at < end) {
      const tag = b[at++];
      if (tag === 0x10) {
        if (seen & SEEN_SEQ || !readVarint(b, at, end)) return undefined;
        seen |= SEEN_SEQ;
        sequence = value;
        at = next;
        continue;
      }
      const bit = tag === 0x0a ? SEEN_ID : tag === 0x1a ? SEEN_TYPE : tag === 0x22 ? SEEN_PAYLOAD : tag === 0x2a ? SEEN_MAC : 0;
      if (!bit || seen & bit) return undefined;
      seen |= bit;
      if (!readVarint(b, at, end) || typeof value !== "number" || next + value > end) return undefined;
      const from = next;
      at = next + value;
      if (bit === SEEN_ID) sessionId = decodeText(b, from, at);
      else if (bit === SEEN_TYPE) payloadType = decodeText(b, from, at);
      else if (bit === SEEN_PAYLOAD) payload = b.subarray(from, at);
      else mac = b.subarray(from, at);
    }
  } catch {
    return undefined; // invalid UTF-8: the codec reports it (705)
  }
  if (!sessionId || !payloadType || !payload?.length || !mac?.length || !sequence) return undefined;
  // A plain message object (what create() returns for these fields), without create()'s per-field walk.
  // (A `finished` field, 6, is not in this fast shape: that one message takes the full codec.)
  return { $typeName: "fleet.v1.SessionEnvelope", sessionId, sequence: BigInt(sequence), payloadType, payload, mac, finished: EMPTY };
}
