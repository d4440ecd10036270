// Binary protobuf encode/decode of fleet.v1 messages (protobuf-es message objects, compiled
// reader and writer with protobuf-es's exact bytes): decoding is strict (wire types, UTF-8,
// structure), then validates the spec's rules, so callers only ever see a FleetError.
import { type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, type Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { readBinary } from "./binary-reader.js";
import { writeBinary, writeBinaryWith } from "./binary-writer.js";
import { validateEnvelope } from "./envelope-rules.js";
import { validateMessage } from "./validate.js";

/** Parses without validating the spec's rules (structure, wire types and UTF-8 only). */
export function parseMessage<D extends DescMessage>(desc: D, bytes: Uint8Array): MessageShape<D> {
  if (!(bytes instanceof Uint8Array)) throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, "expected bytes");
  return readBinary(desc, bytes) as MessageShape<D>;
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
  return writeBinary(desc, msg);
}

export function encodeEnvelope(env: Envelope): Uint8Array {
  validateEnvelope(env);
  return serialize(EnvelopeSchema, env);
}

/** encodeEnvelope, handing take() a view of the bytes in the encoder's buffer (valid only during the call). */
export function encodeEnvelopeWith<T>(env: Envelope, take: (bytes: Uint8Array) => T): T {
  validateEnvelope(env);
  return writeBinaryWith(EnvelopeSchema, env, take);
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
