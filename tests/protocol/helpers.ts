// Shared test helpers for the protocol suites.
import { create } from "@bufbuild/protobuf";
import { PacketSchema, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodePacket, encodePacket } from "../../runtime/codec/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";

export const bytesHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export const packSigned = (s: SignedEnvelope) => encodePacket(create(PacketSchema, { kind: { case: "signed", value: s } }));

export function unpackSigned(bytes: Uint8Array): SignedEnvelope {
  const p = decodePacket(bytes);
  if (p.kind.case !== "signed") throw new FleetError(ErrorCode.WIRE_MALFORMED, "expected a signed packet");
  return p.kind.value;
}

/** The FleetError code fn throws (fails the test when it does not throw one). */
export function codeOf(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (e) {
    if (e instanceof FleetError) return e.code;
    throw e;
  }
  throw new Error("expected a FleetError");
}
