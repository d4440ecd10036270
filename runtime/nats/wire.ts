// How a Fleet Packet rides in a NATS message. Two forms, told apart by Content-Type:
//  - binary: data = Packet bytes (signed or session envelope), Content-Type packet+proto;
//  - JSON:   data = the exact signed JSON envelope bytes (readable with `nats sub`), the
//            signature in Fleet-Signature-* headers, Content-Type envelope+json.
// Either way the receiver rebuilds the same SignedEnvelope and verifies it end to end.
import { create } from "@bufbuild/protobuf";
import { headers as natsHeaders, type MsgHdrs } from "nats";
import { PacketSchema, SignatureScheme, SignedEnvelopeSchema, type Packet, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodePacket, encodePacket, PayloadType } from "../codec/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { decodeSessionPacket } from "./session-packet.js";

export const CONTENT_TYPE = {
  packetProto: PayloadType.packetProto,
  envelopeJson: PayloadType.envelopeJson,
  /** A stored group statement (FLEET_GROUPS, groups.ts): data is one binary fleet.v1.SignedGroupStatement. */
  signedGroupStatement: "application/vnd.fleet.v1.signed-group-statement+proto",
} as const;

export const HEADER = {
  contentType: "Content-Type",
  msgId: "Nats-Msg-Id",
  keyId: "Fleet-Key-Id",
  signature: "Fleet-Signature",
  scheme: "Fleet-Signature-Scheme",
  /** The signer's Ed25519 public key (base64): lets a first-time recipient pin it (see keys.ts). */
  publicKey: "Fleet-Public-Key",
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
  /** The signer's public key, announced for trust on first use. */
  publicKey?: Uint8Array;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

/** Wraps a Packet for NATS. */
export function toWire(packet: Packet, opts: WireOptions = {}): WireMessage {
  const h = natsHeaders();
  if (opts.msgId) h.set(HEADER.msgId, opts.msgId);
  if (opts.publicKey) h.set(HEADER.publicKey, b64(opts.publicKey));
  const signed = packet.kind.case === "signed" ? packet.kind.value : undefined;
  if (opts.json && signed && signed.payloadType === CONTENT_TYPE.envelopeJson && signed.signature) {
    h.set(HEADER.contentType, CONTENT_TYPE.envelopeJson);
    h.set(HEADER.scheme, SignatureScheme[signed.signature.scheme]);
    h.set(HEADER.keyId, signed.signature.keyId);
    h.set(HEADER.signature, b64(signed.signature.sig));
    return { data: signed.payload, headers: h };
  }
  h.set(HEADER.contentType, CONTENT_TYPE.packetProto);
  return { data: encodePacket(packet), headers: h };
}

/** The Packet a NATS message carries; 710 for a missing or unknown Content-Type, 701 for bad bytes. */
export function fromWire(data: Uint8Array, headers: MsgHdrs | undefined): Packet {
  const type = headers?.get(HEADER.contentType) ?? "";
  if (type === CONTENT_TYPE.packetProto) {
    if (data.length === 0) throw new FleetError(ErrorCode.WIRE_MALFORMED, "empty packet");
    const session = decodeSessionPacket(data);
    if (session) return { $typeName: "fleet.v1.Packet", kind: { case: "session", value: session } };
    const packet = decodePacket(data);
    if (packet.kind.case === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "packet holds no envelope", { pointer: "/kind" });
    return packet;
  }
  if (type === CONTENT_TYPE.envelopeJson) return create(PacketSchema, { kind: { case: "signed", value: signedFromJsonWire(data, headers!) } });
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported Content-Type ${JSON.stringify(type)}`);
}

/** The public key a sender announced in Fleet-Public-Key, if any (unverified: see keys.ts). */
export function announcedPublicKey(headers: MsgHdrs | undefined): Uint8Array | undefined {
  const text = headers?.get(HEADER.publicKey);
  if (!text || !/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, "base64"));
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
