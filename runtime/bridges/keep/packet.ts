// keep-protocol's Packet (spec/bridges/keep.md): a hand-written proto3 codec for its ten
// fields, the signed bytes (fields 3..10 re-encoded from the parsed values, never sliced
// from the frame) and pure Ed25519 over them. Strict: a wrong wire type, a varint over its
// width, a truncated field or a string that is not UTF-8 throws 701/705; unknown fields are
// skipped (and are not covered by the signature, as in keep).
import { verifyEd25519, type Identity } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";

export interface KeepPacket {
  sig: Uint8Array;
  pk: Uint8Array;
  /** 0 request, 1 reply, 2 heartbeat. */
  typ: number;
  id: string;
  src: string;
  dst: string;
  body: string;
  fee: bigint;
  ttl: number;
  scar: Uint8Array;
}

export const KEEP_TYP_REQUEST = 0;
export const KEEP_TYP_REPLY = 1;
export const KEEP_TYP_HEARTBEAT = 2;

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function keepPacket(init: Partial<KeepPacket>): KeepPacket {
  return { sig: EMPTY, pk: EMPTY, typ: 0, id: "", src: "", dst: "", body: "", fee: 0n, ttl: 0, scar: EMPTY, ...init };
}

class Writer {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];
  private size = 0;
  private flush(): void {
    if (!this.parts.length) return;
    const b = Uint8Array.from(this.parts);
    this.chunks.push(b);
    this.size += b.length;
    this.parts = [];
  }
  varint(v: bigint): void {
    while (v > 0x7fn) {
      this.parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }
  bytes(field: number, b: Uint8Array): void {
    if (!b.length) return;
    this.varint(BigInt((field << 3) | 2));
    this.varint(BigInt(b.length));
    this.flush();
    this.chunks.push(b);
    this.size += b.length;
  }
  uint(field: number, v: bigint | number): void {
    if (v === 0 || v === 0n) return;
    this.varint(BigInt(field << 3));
    this.varint(BigInt(v));
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function writeSignedFields(w: Writer, p: KeepPacket): void {
  w.uint(3, p.typ);
  w.bytes(4, utf8.encode(p.id));
  w.bytes(5, utf8.encode(p.src));
  w.bytes(6, utf8.encode(p.dst));
  w.bytes(7, utf8.encode(p.body));
  w.uint(8, p.fee);
  w.uint(9, p.ttl);
  w.bytes(10, p.scar);
}

/** The bytes keep signs: the packet without sig and pk, fields 3..10 in order, zero values omitted. */
export function keepSignedBytes(p: KeepPacket): Uint8Array {
  const w = new Writer();
  writeSignedFields(w, p);
  return w.finish();
}

export function encodeKeepPacket(p: KeepPacket): Uint8Array {
  const w = new Writer();
  w.bytes(1, p.sig);
  w.bytes(2, p.pk);
  writeSignedFields(w, p);
  return w.finish();
}

function malformed(what: string): FleetError {
  return new FleetError(ErrorCode.WIRE_MALFORMED, `keep packet: ${what}`);
}

export function decodeKeepPacket(buf: Uint8Array): KeepPacket {
  const p = keepPacket({});
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= buf.length) throw malformed("truncated varint");
      const b = buf[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (v >= 1n << 64n) throw malformed("varint over 64 bits");
        return v;
      }
    }
    throw malformed("varint too long");
  };
  const take = (n: number): Uint8Array => {
    if (at + n > buf.length) throw malformed("truncated field");
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  const text = (b: Uint8Array): string => {
    try {
      return strictUtf8.decode(b);
    } catch {
      throw new FleetError(ErrorCode.WIRE_INVALID_UTF8, "keep packet: a string field is not UTF-8");
    }
  };
  while (at < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) throw malformed("field number 0");
    const known = field >= 1 && field <= 10;
    const wantLen = field === 1 || field === 2 || (field >= 4 && field <= 7) || field === 10;
    if (known && wire !== (wantLen ? 2 : 0)) throw malformed(`field ${field} has wire type ${wire}`);
    switch (wire) {
      case 0: {
        const v = varint();
        if (field === 3 || field === 9) {
          if (v > 0xffffffffn) throw malformed(`field ${field} over 32 bits`);
          if (field === 3) p.typ = Number(v);
          else p.ttl = Number(v);
        } else if (field === 8) p.fee = v;
        break;
      }
      case 1:
        take(8);
        break;
      case 5:
        take(4);
        break;
      case 2: {
        const n = varint();
        if (n > BigInt(buf.length)) throw malformed("length past the end");
        const b = take(Number(n));
        if (field === 1) p.sig = b.slice();
        else if (field === 2) p.pk = b.slice();
        else if (field === 4) p.id = text(b);
        else if (field === 5) p.src = text(b);
        else if (field === 6) p.dst = text(b);
        else if (field === 7) p.body = text(b);
        else if (field === 10) p.scar = b.slice();
        break;
      }
      default:
        throw malformed(`wire type ${wire}`);
    }
  }
  return p;
}

/** True when pk is 32 bytes, sig 64 bytes and the signature over keepSignedBytes(p) verifies. */
export function verifyKeepPacket(p: KeepPacket): boolean {
  if (p.pk.length !== 32 || p.sig.length !== 64) return false;
  try {
    return verifyEd25519(p.pk, keepSignedBytes(p), p.sig);
  } catch {
    return false;
  }
}

/** Signs p with identity's key (sets sig and pk). */
export function signKeepPacket(p: KeepPacket, identity: Identity): KeepPacket {
  const unsigned = { ...p, sig: EMPTY, pk: EMPTY };
  return { ...unsigned, sig: identity.sign(keepSignedBytes(unsigned)), pk: identity.publicKey };
}

/**
 * For a Fleet recipient: decodes the original keep packet a bridged message carries and
 * checks its Ed25519 signature end to end. Throws 601 when it does not verify.
 */
export function openKeepPacket(bytes: Uint8Array): KeepPacket {
  const p = decodeKeepPacket(bytes);
  if (!verifyKeepPacket(p)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "keep packet signature does not verify");
  return p;
}
