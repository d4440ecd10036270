// The hot path of session traffic: Packet{session: SessionEnvelope} written and read by
// hand. The generic codec walks descriptors and validates every field, which costs more
// than the HMAC it carries; this shape is fixed and small. The output is byte-identical to
// encodePacket (tests/nats/session-packet.test.ts), and anything the reader does not
// recognise exactly falls back to the full codec, so errors stay the codec's.
import { create } from "@bufbuild/protobuf";
import { SessionEnvelopeSchema, type SessionEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function varintSize(n: number | bigint): number {
  let v = BigInt(n);
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, n: number | bigint): number {
  if (typeof n === "number" && n < 0x80000000) {
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    return at;
  }
  let v = BigInt(n);
  while (v >= 0x80n) {
    out[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[at++] = Number(v);
  return at;
}

/** Packet bytes for one SessionEnvelope, exactly as encodePacket would write them. */
export function encodeSessionPacket(se: SessionEnvelope): Uint8Array {
  const id = utf8.encode(se.sessionId);
  const type = utf8.encode(se.payloadType);
  const seq = BigInt(se.sequence);
  const field = (len: number) => (len ? 1 + varintSize(len) + len : 0);
  const inner = field(id.length) + (seq ? 1 + varintSize(seq) : 0) + field(type.length) + field(se.payload.length) + field(se.mac.length);
  const out = new Uint8Array(1 + varintSize(inner) + inner);
  let at = 0;
  out[at++] = 0x12; // Packet.session (2), length-delimited
  at = writeVarint(out, at, inner);
  const bytes = (tag: number, b: Uint8Array) => {
    if (!b.length) return;
    out[at++] = tag;
    at = writeVarint(out, at, b.length);
    out.set(b, at);
    at += b.length;
  };
  bytes(0x0a, id);
  if (seq) {
    out[at++] = 0x10;
    at = writeVarint(out, at, seq);
  }
  bytes(0x1a, type);
  bytes(0x22, se.payload);
  bytes(0x2a, se.mac);
  return out;
}

/** Reads a varint; [value, next offset] or undefined when it runs past end or beyond 64 bits. */
function readVarint(b: Uint8Array, at: number, end: number): [bigint, number] | undefined {
  let v = 0n;
  for (let shift = 0n; at < end && shift < 64n; shift += 7n) {
    const byte = b[at++];
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [v, at];
  }
  return undefined;
}

/**
 * The SessionEnvelope of a session Packet with exactly the five known fields, each once and
 * non-empty; undefined for anything else (signed packets, unknown fields, odd encodings),
 * which the caller hands to the full codec.
 */
export function decodeSessionPacket(b: Uint8Array): SessionEnvelope | undefined {
  if (b.length < 2 || b[0] !== 0x12) return undefined;
  const len = readVarint(b, 1, b.length);
  if (!len || len[1] + Number(len[0]) !== b.length) return undefined;
  let at = len[1];
  const end = b.length;
  const seen = new Set<number>();
  let sessionId = "";
  let payloadType = "";
  let payload: Uint8Array | undefined;
  let mac: Uint8Array | undefined;
  let sequence = 0n;
  try {
    while (at < end) {
      const tag = b[at++];
      if (seen.has(tag)) return undefined;
      seen.add(tag);
      if (tag === 0x10) {
        const v = readVarint(b, at, end);
        if (!v) return undefined;
        [sequence, at] = v;
        continue;
      }
      if (tag !== 0x0a && tag !== 0x1a && tag !== 0x22 && tag !== 0x2a) return undefined;
      const l = readVarint(b, at, end);
      if (!l || l[1] + Number(l[0]) > end) return undefined;
      const value = b.subarray(l[1], l[1] + Number(l[0]));
      at = l[1] + Number(l[0]);
      if (tag === 0x0a) sessionId = strictUtf8.decode(value);
      else if (tag === 0x1a) payloadType = strictUtf8.decode(value);
      else if (tag === 0x22) payload = value;
      else mac = value;
    }
  } catch {
    return undefined; // invalid UTF-8: the codec reports it (705)
  }
  if (!sessionId || !payloadType || !payload?.length || !mac?.length || sequence === 0n) return undefined;
  return create(SessionEnvelopeSchema, { sessionId, sequence, payloadType, payload, mac });
}
