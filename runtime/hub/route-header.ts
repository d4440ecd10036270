// The routing fast path of a forwarded signed packet: read only the fields the hub routes
// on (sender, recipient, id, created_at, ttl, requires_ack, key id) straight from the wire,
// into a plain RouteHead: no Envelope, no body, no per-field closures. The packet is
// forwarded unchanged and every recipient parses, validates and verifies all of it end to
// end, so the hub need not (HubOptions.verify). Anything unusual on the wire (a known field
// with another wire type, a repeated sub-message, a group) is not guessed at: the reader
// answers undefined and the hub takes the full decoding path instead.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PayloadType } from "../codec/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { codePoints } from "../codec/validate.js";

export interface SignedPacketView {
  payloadType: string;
  payload: Uint8Array;
  keyId: string;
  sigLength: number;
}

/** The fields the hub routes, refuses and stores on, named as in Envelope. */
export interface RouteHead {
  id: string;
  sender: string;
  target: Recipient["target"];
  createdAt: Timestamp;
  ttlSeconds: number;
  requiresAck: boolean;
  correlationId: string;
  /** in_reply_to and thread_id (the hub's history groups threads on them). */
  inReplyTo: string;
  threadId: string;
  protocolVersion: string;
  /** security.key_id */
  keyId: string;
}

/** The same fields of a fully decoded Envelope (messages that took the full path). */
export function headOf(env: Envelope): RouteHead {
  return {
    id: env.id,
    sender: env.sender,
    target: env.recipient?.target ?? { case: undefined },
    createdAt: env.createdAt!,
    ttlSeconds: env.ttlSeconds,
    requiresAck: env.requiresAck,
    correlationId: env.correlationId,
    inReplyTo: env.inReplyTo,
    threadId: env.threadId,
    protocolVersion: env.protocolVersion,
    keyId: env.security?.keyId ?? "",
  };
}

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;
const malformed = (what: string) => new FleetError(ErrorCode.WIRE_MALFORMED, `malformed ${what}`);
const utf8 = new TextDecoder();

/** A cursor over protobuf wire bytes; every read is bounds-checked (701 past the end). */
class Wire {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = start;
  }

  /** A varint as a number (exact up to 2^53; larger values only need to be "large" here). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(this.what);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw malformed(this.what);
  }

  /** A field's tag: field number << 3 | wire type (701 for field 0 or more than 32 bits, as the full decoder). */
  tag(): number {
    const t = this.varint();
    if (t > 0xffffffff || t >>> 3 === 0) throw malformed(this.what);
    return t;
  }

  /** The end of a length-delimited field starting here (the cursor moves past its length). */
  span(): number {
    const len = this.varint();
    const stop = this.pos + len;
    if (stop > this.end) throw malformed(this.what);
    return stop;
  }

  string(): string {
    const stop = this.span();
    // TextDecoder yields flat strings, which hash fastest as Map keys (the dedupe window).
    const s = utf8.decode(this.buf.subarray(this.pos, stop));
    this.pos = stop;
    return s;
  }

  /** Skips one field's value; false for a wire type the fast path leaves to the full decoder (groups). */
  skip(wire: number): boolean {
    if (wire === VARINT) this.varint();
    else if (wire === LEN) this.pos = this.span();
    else if (wire === FIXED64 || wire === FIXED32) {
      this.pos += wire === FIXED64 ? 8 : 4;
      if (this.pos > this.end) throw malformed(this.what);
    } else return false;
    return true;
  }
}

/** A Packet carrying a SignedEnvelope, read in place; undefined for any other packet. */
export function readSignedPacket(bytes: Uint8Array): SignedPacketView | undefined {
  const w = new Wire(bytes, 0, bytes.length, "packet");
  // Packet: exactly one field, `signed` (1); anything else (session, a repeat) takes the full path.
  if (w.pos >= w.end || w.tag() !== ((1 << 3) | LEN)) return undefined;
  const signedEnd = w.span();
  if (signedEnd !== w.end) return undefined;
  const view: SignedPacketView = { payloadType: "", payload: EMPTY, keyId: "", sigLength: 0 };
  let sawSignature = false;
  while (w.pos < signedEnd) {
    const tag = w.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field >= 1 && field <= 3 && wire !== LEN) return undefined;
    if (field === 1) view.payloadType = w.string();
    else if (field === 2) {
      const stop = w.span();
      view.payload = bytes.subarray(w.pos, stop);
      w.pos = stop;
    } else if (field === 3) {
      if (sawSignature) return undefined;
      sawSignature = true;
      const stop = w.span();
      while (w.pos < stop) {
        const t = w.tag();
        const f = t >>> 3;
        if ((f === 2 || f === 3) && (t & 7) !== LEN) return undefined;
        if (f === 2) view.keyId = w.string();
        else if (f === 3) {
          const s = w.span();
          view.sigLength = s - w.pos;
          w.pos = s;
        } else if (!w.skip(t & 7)) return undefined;
      }
      if (w.pos !== stop) throw malformed("packet");
    } else if (!w.skip(wire)) return undefined;
  }
  return view;
}

const EMPTY = new Uint8Array(0);

const need = (ok: boolean, code: ErrorCode, what: string, pointer: string) => {
  if (!ok) throw new FleetError(code, what, { pointer });
};

const TARGETS = ["agent", "group", "capability", "broadcast", "discovery", "hub"] as const;

/**
 * The routing fields of a binary Envelope, checked against the spec's rules for those
 * fields (701 malformed, 707 missing, 709 out of range); undefined when the payload is not
 * the binary form, or is unusual enough that the full decoder should judge it.
 */
export function readRouteHead(payloadType: string, payload: Uint8Array): RouteHead | undefined {
  if (payloadType !== PayloadType.envelopeProto) return undefined;
  const w = new Wire(payload, 0, payload.length, "envelope");
  let id = "";
  let sender = "";
  let target: Recipient["target"] = { case: undefined };
  let created: Timestamp | undefined;
  let ttl = 0;
  let requiresAck = false;
  let correlationId = "";
  let inReplyTo = "";
  let threadId = "";
  let version = "";
  let keyId = "";
  let subMessages = 0; // recipient, created_at, security: each at most once (no merging here)
  while (w.pos < w.end) {
    const tag = w.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    switch (field) {
      case 1:
      case 2:
      case 8:
      case 9:
      case 10:
      case 13: {
        if (wire !== LEN) return undefined;
        const s = w.string();
        if (field === 1) id = s;
        else if (field === 2) sender = s;
        else if (field === 9) correlationId = s;
        else if (field === 8) inReplyTo = s;
        else if (field === 10) threadId = s;
        else version = s;
        break;
      }
      case 7:
      case 11: {
        if (wire !== VARINT) return undefined;
        const v = w.varint();
        if (field === 7) ttl = v > 0xffffffff ? v % 2 ** 32 : v;
        else requiresAck = v !== 0;
        break;
      }
      case 3:
      case 6:
      case 14: {
        const bit = field === 3 ? 1 : field === 6 ? 2 : 4;
        if (wire !== LEN || subMessages & bit) return undefined;
        subMessages |= bit;
        const stop = w.span();
        const inner = new Wire(payload, w.pos, stop, "envelope");
        w.pos = stop;
        if (field === 3) {
          const t = readTarget(inner);
          if (!t) return undefined;
          target = t;
        } else if (field === 6) {
          const ts = readTimestamp(inner);
          if (!ts) return undefined;
          created = ts;
        } else {
          const k = readKeyId(inner);
          if (k === undefined) return undefined;
          keyId = k;
        }
        break;
      }
      default:
        if (!w.skip(wire)) return undefined;
    }
  }
  need(id.length >= 1 && codePoints(id, 64) <= 64, ErrorCode.VALIDATION_OUT_OF_RANGE, "id must be 1..64 characters", "/id");
  need(sender.length >= 1 && codePoints(sender, 128) <= 128, ErrorCode.VALIDATION_OUT_OF_RANGE, "sender must be 1..128 characters", "/sender");
  need(target.case !== undefined && target.value !== "" && target.value !== false, ErrorCode.VALIDATION_MISSING_FIELD, "recipient is required", "/recipient");
  need(created !== undefined, ErrorCode.VALIDATION_MISSING_FIELD, "created_at is required", "/createdAt");
  need(ttl >= 1, ErrorCode.VALIDATION_OUT_OF_RANGE, "ttl_seconds must be at least 1", "/ttlSeconds");
  need(version !== "", ErrorCode.VALIDATION_MISSING_FIELD, "protocol_version is required", "/protocolVersion");
  return { id, sender, target, createdAt: created!, ttlSeconds: ttl, requiresAck, correlationId, inReplyTo, threadId, protocolVersion: version, keyId };
}

/** Recipient's oneof (last one set wins, as in protobuf); undefined to defer to the full decoder. */
function readTarget(w: Wire): Recipient["target"] | undefined {
  let target: Recipient["target"] = { case: undefined };
  while (w.pos < w.end) {
    const tag = w.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field >= 1 && field <= 3) {
      if (wire !== LEN) return undefined;
      target = { case: TARGETS[field - 1] as "agent", value: w.string() };
    } else if (field >= 4 && field <= 6) {
      if (wire !== VARINT) return undefined;
      target = { case: TARGETS[field - 1] as "broadcast", value: w.varint() !== 0 };
    } else if (!w.skip(wire)) return undefined;
  }
  return target;
}

function readTimestamp(w: Wire): Timestamp | undefined {
  let seconds = 0;
  let nanos = 0;
  while (w.pos < w.end) {
    const tag = w.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== VARINT) return undefined;
      const v = w.varint();
      // Negative values (10-byte varints) are never fresh: leave them to the full decoder.
      if (v >= 2 ** 53) return undefined;
      if (field === 1) seconds = v;
      else nanos = v;
    } else if (!w.skip(wire)) return undefined;
  }
  return { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos };
}

function readKeyId(w: Wire): string | undefined {
  let keyId = "";
  while (w.pos < w.end) {
    const tag = w.tag();
    if (tag >>> 3 === 1) {
      if ((tag & 7) !== LEN) return undefined;
      keyId = w.string();
    } else if (!w.skip(tag & 7)) return undefined;
  }
  return keyId;
}
