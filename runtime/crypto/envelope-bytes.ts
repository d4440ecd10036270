// The two serialized forms of an Envelope that a signature can cover, via the codec
// (which validates on the way out and on the way in).
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { decodeEnvelope, encodeEnvelope, envelopeFromJson, envelopeToJson, parseJsonBytes, PayloadType } from "../codec/index.js";
import { ErrorCode, FleetError } from "../errors.js";

export const ENVELOPE_PROTO = PayloadType.envelopeProto;
export const ENVELOPE_JSON = PayloadType.envelopeJson;
export const ENVELOPE_BATCH_PROTO = PayloadType.envelopeBatchProto;

const utf8 = new TextEncoder();

export function serializeEnvelope(env: Envelope, payloadType: string): Uint8Array {
  if (payloadType === ENVELOPE_PROTO) return encodeEnvelope(env);
  if (payloadType === ENVELOPE_JSON) return utf8.encode(JSON.stringify(envelopeToJson(env)));
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}

/** Parses payload bytes per payload type: 710 for an unknown type, 701/705-709 for bad bytes. */
export function parseEnvelope(payload: Uint8Array, payloadType: string): Envelope {
  if (payloadType === ENVELOPE_PROTO) return decodeEnvelope(payload);
  if (payloadType === ENVELOPE_JSON) return envelopeFromJson(parseJsonBytes(payload));
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}
