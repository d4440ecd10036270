// A signed or session payload parsed per its type, without a signature check (the hub's
// verify "none" path, bottles' stored letters, and session templates re-sealed on delivery).
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { decodeEnvelope, envelopeFromJson, parseJsonBytes, PayloadType } from "../codec/index.js";
import { ErrorCode, FleetError } from "../errors.js";

/** Parses a signed or session payload per its type (no signature check: see HubOptions.verify). */
export function parseSigned(payloadType: string, payload: Uint8Array): Envelope {
  if (payloadType === PayloadType.envelopeProto) return decodeEnvelope(payload);
  // The same reading as every verifier: strict UTF-8 (705), JSON (701), I-JSON (701).
  if (payloadType === PayloadType.envelopeJson) return envelopeFromJson(parseJsonBytes(payload));
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}
