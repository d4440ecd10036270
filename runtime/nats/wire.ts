// How a Fleet Packet rides in a NATS message. Two forms, told apart by Content-Type:
//  - binary: data = Packet bytes (signed or session envelope), Content-Type packet+proto;
//  - JSON:   data = the exact signed JSON envelope bytes (readable with `nats sub`), the
//            signature in Fleet-Signature-* headers, Content-Type envelope+json.
// Either way the receiver rebuilds the same SignedEnvelope and verifies it end to end.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { headers as natsHeaders, type MsgHdrs } from "nats";
import { PacketSchema, SignatureScheme, SignedEnvelopeSchema, type Packet, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";

export const CONTENT_TYPE = {
  packetProto: "application/vnd.fleet.v1.packet+proto",
  envelopeJson: "application/vnd.fleet.v1.envelope+json",
} as const;

export const HEADER = {
  contentType: "Content-Type",
  msgId: "Nats-Msg-Id",
  keyId: "Fleet-Key-Id",
  signature: "Fleet-Signature",
  scheme: "Fleet-Signature-Scheme",
} as const;

export interface WireMessage {
  data: Uint8Array;
  headers: MsgHdrs;
}

export interface WireOptions {
  /** JetStream dedupe id (the envelope id): a resend within the duplicate window is dropped. */
  msgId?: string;
  /** Carry a signed JSON envelope in the JSON form instead of Packet bytes. */
  json?: boolean;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

/** Wraps a Packet for NATS. */
export function toWire(packet: Packet, opts: WireOptions = {}): WireMessage {
  const h = natsHeaders();
  if (opts.msgId) h.set(HEADER.msgId, opts.msgId);
  const signed = packet.kind.case === "signed" ? packet.kind.value : undefined;
  if (opts.json && signed && signed.payloadType === CONTENT_TYPE.envelopeJson && signed.signature) {
    h.set(HEADER.contentType, CONTENT_TYPE.envelopeJson);
    h.set(HEADER.scheme, SignatureScheme[signed.signature.scheme]);
    h.set(HEADER.keyId, signed.signature.keyId);
    h.set(HEADER.signature, b64(signed.signature.sig));
    return { data: signed.payload, headers: h };
  }
  h.set(HEADER.contentType, CONTENT_TYPE.packetProto);
  return { data: toBinary(PacketSchema, packet), headers: h };
}

/** The Packet a NATS message carries; 710 for a missing or unknown Content-Type, 701 for bad bytes. */
export function fromWire(data: Uint8Array, headers: MsgHdrs | undefined): Packet {
  const type = headers?.get(HEADER.contentType) ?? "";
  if (type === CONTENT_TYPE.packetProto) {
    if (data.length === 0) throw new FleetError(ErrorCode.WIRE_MALFORMED, "empty packet");
    let packet: Packet;
    try {
      packet = fromBinary(PacketSchema, data);
    } catch (e) {
      throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "packet");
    }
    if (packet.kind.case === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "packet holds no envelope", { pointer: "/kind" });
    return packet;
  }
  if (type === CONTENT_TYPE.envelopeJson) return create(PacketSchema, { kind: { case: "signed", value: signedFromJsonWire(data, headers!) } });
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported Content-Type ${JSON.stringify(type)}`);
}

function signedFromJsonWire(data: Uint8Array, h: MsgHdrs): SignedEnvelope {
  const schemeName = h.get(HEADER.scheme);
  const scheme = SignatureScheme[schemeName as keyof typeof SignatureScheme];
  if (typeof scheme !== "number" || scheme === SignatureScheme.UNSPECIFIED) {
    throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `unknown signature scheme ${JSON.stringify(schemeName)}`);
  }
  const sigText = h.get(HEADER.signature);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sigText)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "missing or malformed Fleet-Signature header");
  return create(SignedEnvelopeSchema, {
    payloadType: CONTENT_TYPE.envelopeJson,
    payload: data,
    signature: { scheme, keyId: h.get(HEADER.keyId), sig: new Uint8Array(Buffer.from(sigText, "base64")) },
  });
}
