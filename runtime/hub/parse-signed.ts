// A signed or session payload parsed per its type, without a signature check (the hub's
// verify "none" path, bottles' stored letters, and session templates re-sealed on delivery).
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { decodeEnvelope, envelopeFromJson, PayloadType } from "../codec/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses a signed or session payload per its type (no signature check: see HubOptions.verify). */
export function parseSigned(payloadType: string, payload: Uint8Array): Envelope {
  if (payloadType === PayloadType.envelopeProto) return decodeEnvelope(payload);
  if (payloadType === PayloadType.envelopeJson) {
    let json: unknown;
    try {
      json = JSON.parse(utf8.decode(payload));
    } catch (e) {
      throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "envelope JSON");
    }
    return envelopeFromJson(json);
  }
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}
