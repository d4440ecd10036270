// Binary protobuf encode/decode over protobuf-es: decoding scans the wire structure first
// (wire-scan.ts), decodes strings strictly (invalid UTF-8 is 705), then validates, so
// callers only ever see a FleetError.
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, type Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { validateEnvelope } from "./envelope-rules.js";
import { validateMessage } from "./validate.js";
import { scanWire } from "./wire-scan.js";

function isUtf8Error(e: unknown): boolean {
  return e instanceof TypeError && ((e as { code?: string }).code === "ERR_ENCODING_INVALID_ENCODED_DATA" || /utf-?8|encoded data/i.test(e.message));
}

/** Parses without validating the spec's rules (structure, wire types and UTF-8 only). */
export function parseMessage<D extends DescMessage>(desc: D, bytes: Uint8Array): MessageShape<D> {
  if (!(bytes instanceof Uint8Array)) throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, "expected bytes");
  scanWire(desc, bytes);
  try {
    return fromBinary(desc, bytes);
  } catch (e) {
    if (isUtf8Error(e)) throw new FleetError(ErrorCode.WIRE_INVALID_UTF8, `a string field of ${desc.name} is not valid UTF-8`, { cause: e });
    throw new FleetError(ErrorCode.WIRE_MALFORMED, `not a valid ${desc.name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Decodes and validates any fleet.v1 message. */
export function decodeMessage<D extends DescMessage>(desc: D, bytes: Uint8Array): MessageShape<D> {
  const msg = parseMessage(desc, bytes);
  validateMessage(desc, msg);
  return msg;
}

/** Validates, then encodes any fleet.v1 message. */
export function encodeMessage<D extends DescMessage>(desc: D, msg: MessageShape<D>): Uint8Array {
  validateMessage(desc, msg);
  return serialize(desc, msg);
}

function serialize<D extends DescMessage>(desc: D, msg: MessageShape<D>): Uint8Array {
  try {
    return toBinary(desc, msg);
  } catch (e) {
    throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `cannot encode ${desc.name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

export function encodeEnvelope(env: Envelope): Uint8Array {
  validateEnvelope(env);
  return serialize(EnvelopeSchema, env);
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const env = parseMessage(EnvelopeSchema, bytes);
  validateEnvelope(env);
  return env;
}

export function encodePacket(p: Packet): Uint8Array {
  return encodeMessage(PacketSchema, p);
}

export function decodePacket(bytes: Uint8Array): Packet {
  return decodeMessage(PacketSchema, bytes);
}
