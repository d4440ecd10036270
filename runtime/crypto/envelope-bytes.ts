// The two serialized forms of an Envelope that a signature can cover. Private to crypto;
// TODO(codec): switch to runtime/codec encodeEnvelope/decodeEnvelope once it lands.
import { fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";

export const ENVELOPE_PROTO = "application/vnd.fleet.v1.envelope+proto";
export const ENVELOPE_JSON = "application/vnd.fleet.v1.envelope+json";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function serializeEnvelope(env: Envelope, payloadType: string): Uint8Array {
  if (payloadType === ENVELOPE_PROTO) return toBinary(EnvelopeSchema, env);
  if (payloadType === ENVELOPE_JSON) return utf8.encode(JSON.stringify(toJson(EnvelopeSchema, env)));
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}

/** Parses payload bytes per payload type: 710 for an unknown type, 701/705 for bad bytes. */
export function parseEnvelope(payload: Uint8Array, payloadType: string): Envelope {
  if (payloadType === ENVELOPE_PROTO) {
    try {
      return fromBinary(EnvelopeSchema, payload);
    } catch (e) {
      throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "envelope");
    }
  }
  if (payloadType === ENVELOPE_JSON) {
    let text: string;
    try {
      text = strictUtf8.decode(payload);
    } catch (e) {
      throw asFleetError(e, ErrorCode.WIRE_INVALID_UTF8, "envelope JSON");
    }
    try {
      return fromJson(EnvelopeSchema, JSON.parse(text));
    } catch (e) {
      throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "envelope JSON");
    }
  }
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}
