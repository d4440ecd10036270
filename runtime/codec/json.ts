// The canonical JSON form (protobuf JSON as protobuf-es emits it: lowerCamelCase names,
// enum names, 64-bit integers as strings, bytes as base64, timestamps as RFC 3339).
import { fromJson, toJson, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { validateEnvelope } from "./envelope-rules.js";
import { checkJsonValue } from "./json-check.js";
import { validateMessage } from "./validate.js";
import { assertNoDuplicateMembers } from "./i-json.js";

export type { JsonObject };

/** The JSON form of any fleet.v1 message (validated first). */
export function messageToJson<D extends DescMessage>(desc: D, msg: MessageShape<D>): JsonObject {
  validateMessage(desc, msg);
  return toJson(desc, msg) as JsonObject;
}

/** Parses without the spec's rules: shape and types only. */
export function parseJsonMessage<D extends DescMessage>(desc: D, json: unknown): MessageShape<D> {
  checkJsonValue(desc, json);
  try {
    return fromJson(desc, json as JsonObject);
  } catch (e) {
    throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `not a valid ${desc.name} JSON form: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Parses and validates the JSON form of any fleet.v1 message. */
export function messageFromJson<D extends DescMessage>(desc: D, json: unknown): MessageShape<D> {
  const msg = parseJsonMessage(desc, json);
  validateMessage(desc, msg);
  return msg;
}

export function envelopeToJson(env: Envelope): JsonObject {
  validateEnvelope(env);
  return toJson(EnvelopeSchema, env) as JsonObject;
}

export function envelopeFromJson(json: unknown): Envelope {
  const env = parseJsonMessage(EnvelopeSchema, json);
  validateEnvelope(env);
  return env;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Parses JSON text given as UTF-8 bytes (the envelope+json payload type): 705 on bad UTF-8,
 * 701 on bad JSON or on text that is not I-JSON (a duplicate member name, spec/signing.md).
 */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
  } catch (e) {
    throw new FleetError(ErrorCode.WIRE_INVALID_UTF8, "JSON text is not valid UTF-8", { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FleetError(ErrorCode.WIRE_MALFORMED, `not JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  assertNoDuplicateMembers(text);
  return value;
}
