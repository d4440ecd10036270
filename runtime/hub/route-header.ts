// The routing fast path of a forwarded signed packet: read only the fields the hub routes
// on (sender, recipient, id, created_at, ttl, requires_ack, key id) straight from the wire,
// without materialising the body. The packet is forwarded unchanged and every recipient
// parses, validates and verifies all of it end to end, so the hub need not (HubOptions.verify).
import { create } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Envelope, EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import { PayloadType } from "../codec/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";

export interface SignedPacketView {
  payloadType: string;
  payload: Uint8Array;
  keyId: string;
  sigLength: number;
}

function fields(bytes: Uint8Array, each: (field: number, wire: WireType, r: BinaryReader) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (!each(field, wire, r)) r.skip(wire, field);
  }
}

/** A Packet carrying a SignedEnvelope, read in place; undefined for any other packet. */
export function readSignedPacket(bytes: Uint8Array): SignedPacketView | undefined {
  try {
    let signed: Uint8Array | undefined;
    fields(bytes, (f, w, r) => (f === 1 && w === WireType.LengthDelimited ? ((signed = r.bytes()), true) : false));
    if (!signed) return undefined;
    const view: SignedPacketView = { payloadType: "", payload: new Uint8Array(), keyId: "", sigLength: 0 };
    fields(signed, (f, w, r) => {
      if (w !== WireType.LengthDelimited) return false;
      if (f === 1) view.payloadType = r.string();
      else if (f === 2) view.payload = r.bytes();
      else if (f === 3)
        fields(r.bytes(), (g, w2, r2) => {
          if (w2 !== WireType.LengthDelimited) return false;
          if (g === 2) view.keyId = r2.string();
          else if (g === 3) view.sigLength = r2.bytes().length;
          else return false;
          return true;
        });
      else return false;
      return true;
    });
    return view;
  } catch (e) {
    throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "packet");
  }
}

const need = (ok: boolean, code: ErrorCode, what: string, pointer: string) => {
  if (!ok) throw new FleetError(code, what, { pointer });
};

/**
 * The routing fields of a binary Envelope as an Envelope without a body, checked against
 * the spec's rules for those fields; undefined when the payload is not the binary form.
 */
export function readRouteEnvelope(payloadType: string, payload: Uint8Array): Envelope | undefined {
  if (payloadType !== PayloadType.envelopeProto) return undefined;
  let id = "";
  let sender = "";
  let target: Recipient["target"] = { case: undefined };
  let createdMs: number | undefined;
  let ttl = 0;
  let requiresAck = false;
  let correlationId = "";
  let version = "";
  let keyId = "";
  try {
    fields(payload, (f, w, r) => {
      switch (f) {
        case 1:
          id = r.string();
          return true;
        case 2:
          sender = r.string();
          return true;
        case 3:
          fields(r.bytes(), (g, w2, r2) => {
            if (g >= 1 && g <= 3 && w2 === WireType.LengthDelimited) target = { case: (["agent", "group", "capability"] as const)[g - 1], value: r2.string() };
            else if (g >= 4 && g <= 6 && w2 === WireType.Varint) target = { case: (["broadcast", "discovery", "hub"] as const)[g - 4], value: r2.bool() };
            else return false;
            return true;
          });
          return true;
        case 6: {
          let seconds = 0;
          let nanos = 0;
          fields(r.bytes(), (g, w2, r2) => {
            if (w2 !== WireType.Varint) return false;
            if (g === 1) seconds = Number(r2.int64());
            else if (g === 2) nanos = r2.int32();
            else return false;
            return true;
          });
          createdMs = seconds * 1000 + Math.floor(nanos / 1e6);
          return true;
        }
        case 7:
          ttl = r.uint32();
          return true;
        case 9:
          correlationId = r.string();
          return true;
        case 11:
          requiresAck = r.bool();
          return true;
        case 13:
          version = r.string();
          return true;
        case 14:
          fields(r.bytes(), (g, w2, r2) => (g === 1 && w2 === WireType.LengthDelimited ? ((keyId = r2.string()), true) : false));
          return true;
        default:
          return false;
      }
    });
  } catch (e) {
    throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "envelope");
  }
  need(id.length >= 1 && id.length <= 64, ErrorCode.VALIDATION_OUT_OF_RANGE, "id must be 1..64 characters", "/id");
  need(sender.length >= 1 && sender.length <= 128, ErrorCode.VALIDATION_OUT_OF_RANGE, "sender must be 1..128 characters", "/sender");
  const t = target as Recipient["target"];
  need(t.case !== undefined && t.value !== "" && t.value !== false, ErrorCode.VALIDATION_MISSING_FIELD, "recipient is required", "/recipient");
  need(createdMs !== undefined, ErrorCode.VALIDATION_MISSING_FIELD, "created_at is required", "/createdAt");
  need(ttl >= 1, ErrorCode.VALIDATION_OUT_OF_RANGE, "ttl_seconds must be at least 1", "/ttlSeconds");
  need(version !== "", ErrorCode.VALIDATION_MISSING_FIELD, "protocol_version is required", "/protocolVersion");
  return create(EnvelopeSchema, { id, sender, recipient: { target: t }, createdAt: timestampFromMs(createdMs!), ttlSeconds: ttl, requiresAck, correlationId, protocolVersion: version, security: { keyId } });
}
