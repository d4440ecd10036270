// The two NATS message forms carry the same SignedEnvelope; bad input is a typed error.
import { create } from "@bufbuild/protobuf";
import { headers } from "nats";
import { describe, expect, it } from "vitest";
import { PacketSchema, SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { CONTENT_TYPE, fromWire, HEADER, toWire } from "../../runtime/nats/wire.js";

const signedPacket = (payloadType: string, payload: Uint8Array) =>
  create(PacketSchema, {
    kind: { case: "signed", value: { payloadType, payload, signature: { scheme: SignatureScheme.ED25519, keyId: "ed25519:abc", sig: new Uint8Array(64).fill(7) } } },
  });

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FleetError);
    return (e as FleetError).code;
  }
  throw new Error("expected a FleetError");
}

describe("NATS wire forms", () => {
  it("binary: Packet bytes with Content-Type packet+proto and Nats-Msg-Id", () => {
    const p = signedPacket("application/vnd.fleet.v1.envelope+proto", new Uint8Array([1, 2, 3]));
    const w = toWire(p, { msgId: "m-1" });
    expect(w.headers.get(HEADER.contentType)).toBe(CONTENT_TYPE.packetProto);
    expect(w.headers.get(HEADER.msgId)).toBe("m-1");
    expect(fromWire(w.data, w.headers)).toEqual(p);
  });

  it("JSON: the signed JSON bytes as data, signature in headers, same SignedEnvelope back", () => {
    const json = new TextEncoder().encode('{"id":"m-2"}');
    const p = signedPacket(CONTENT_TYPE.envelopeJson, json);
    const w = toWire(p, { json: true });
    expect(w.headers.get(HEADER.contentType)).toBe(CONTENT_TYPE.envelopeJson);
    expect(new TextDecoder().decode(w.data)).toBe('{"id":"m-2"}');
    expect(fromWire(w.data, w.headers)).toEqual(p);
  });

  it("rejects a missing or unknown Content-Type (710), garbage (701), empty packets and bad signature headers", () => {
    expect(codeOf(() => fromWire(new Uint8Array([1]), undefined))).toBe(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE);
    const h = headers();
    h.set(HEADER.contentType, "text/plain");
    expect(codeOf(() => fromWire(new Uint8Array([1]), h))).toBe(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE);
    h.set(HEADER.contentType, CONTENT_TYPE.packetProto);
    expect(codeOf(() => fromWire(new Uint8Array([0xff, 0xff, 0xff]), h))).toBe(ErrorCode.WIRE_MALFORMED);
    expect(codeOf(() => fromWire(new Uint8Array(), h))).toBe(ErrorCode.WIRE_MALFORMED);
    const j = headers();
    j.set(HEADER.contentType, CONTENT_TYPE.envelopeJson);
    expect(codeOf(() => fromWire(new Uint8Array([123, 125]), j))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    j.set(HEADER.scheme, "ED25519");
    j.set(HEADER.signature, "not base64 !");
    expect(codeOf(() => fromWire(new Uint8Array([123, 125]), j))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });
});
