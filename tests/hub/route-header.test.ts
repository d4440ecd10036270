// The hub's routing fast path reads the same fields the full decoder would, refuses what
// the full decoder refuses for those fields, and leaves anything unusual to the full decoder.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { decodeEnvelope, encodePacket, PayloadType } from "../../runtime/codec/index.js";
import { generateIdentity, signEnvelope } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { headOf, readRouteHead, readSignedPacket } from "../../runtime/hub/route-header.js";

describe("route header", () => {
  const id = generateIdentity("alpha");

  it("reads the routing fields of a signed packet in place", () => {
    const env = buildEnvelope({ to: "group:ops", json: { big: "x".repeat(2000) }, requiresAck: true, correlationId: "c1", ttlSeconds: 42 }, "alpha", systemClock);
    const signed = signEnvelope(env, id);
    const view = readSignedPacket(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } })))!;
    expect(view).toMatchObject({ payloadType: PayloadType.envelopeProto, keyId: id.keyId, sigLength: 64 });
    const header = readRouteHead(view.payloadType, view.payload)!;
    expect(header.id).toBe(env.id);
    expect(header.sender).toBe("alpha");
    expect(header.target).toEqual({ case: "group", value: "ops" });
    expect(header.createdAt.seconds).toBe(env.createdAt?.seconds);
    expect([header.ttlSeconds, header.requiresAck, header.correlationId, header.keyId]).toEqual([42, true, "c1", id.keyId]);
    expect("body" in header).toBe(false);
  });

  it("agrees with the full decoder on every recipient kind and field", () => {
    const drafts = [
      { to: "beta", text: "x" },
      { to: "capability:summarize", text: "x", requiresAck: true },
      { to: "fleet:broadcast", json: { a: 1 }, ttlSeconds: 4_000_000 },
      { to: "fleet:discovery", text: "é ünïcödé", correlationId: "ç-1" },
      { to: "fleet:hub", text: "x" },
      { to: "beta", text: "re", inReplyTo: "m-1", threadId: "t-ç" },
    ];
    for (const d of drafts) {
      const bytes = toBinary(EnvelopeSchema, buildEnvelope(d, "alpha", systemClock));
      expect(readRouteHead(PayloadType.envelopeProto, bytes)).toEqual(headOf(decodeEnvelope(bytes)));
    }
  });

  it("leaves unusual wire forms to the full decoder (undefined) rather than guess", () => {
    const bytes = toBinary(EnvelopeSchema, buildEnvelope({ to: "beta", text: "x" }, "alpha", systemClock));
    // A second recipient (protobuf would merge the two): 0x1a = field 3, length-delimited.
    const twoRecipients = new Uint8Array([...bytes, 0x1a, 0x06, 0x0a, 0x04, 0x65, 0x76, 0x69, 0x6c]);
    expect(readRouteHead(PayloadType.envelopeProto, twoRecipients)).toBeUndefined();
    // The sender (field 2) as a varint instead of a string.
    expect(readRouteHead(PayloadType.envelopeProto, new Uint8Array([...bytes, 0x10, 0x01]))).toBeUndefined();
    // A packet whose oneof is set twice (signed, then session): the last one wins in protobuf.
    const signed = encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(buildEnvelope({ to: "beta", text: "x" }, "alpha", systemClock), id) } }));
    expect(readSignedPacket(new Uint8Array([...signed, 0x12, 0x00]))).toBeUndefined();
    // Field number 0 and truncation are malformed (701), as for the full decoder.
    expect(() => readRouteHead(PayloadType.envelopeProto, new Uint8Array([0x02, 0x00]))).toThrow(expect.objectContaining({ code: ErrorCode.WIRE_MALFORMED }));
    expect(() => readRouteHead(PayloadType.envelopeProto, bytes.subarray(0, bytes.length - 1))).toThrow(expect.objectContaining({ code: ErrorCode.WIRE_MALFORMED }));
  });

  it("is not used for session packets or JSON payloads", () => {
    expect(readSignedPacket(encodePacket(create(PacketSchema, { kind: { case: "session", value: { sessionId: "s", sequence: 1n, payloadType: PayloadType.envelopeProto, payload: new Uint8Array([1]), mac: new Uint8Array(32) } } })))).toBeUndefined();
    expect(readRouteHead(PayloadType.envelopeJson, new Uint8Array([123, 125]))).toBeUndefined();
  });

  it("refuses malformed bytes (701) and missing routing fields (707/709) with pointers", () => {
    expect(() => readRouteHead(PayloadType.envelopeProto, new Uint8Array([0x0a, 0x7f, 0x01]))).toThrow(expect.objectContaining({ code: ErrorCode.WIRE_MALFORMED }));
    const noRecipient = buildEnvelope({ to: "beta", text: "x" }, "alpha", systemClock);
    noRecipient.recipient = undefined;
    let err: unknown;
    try {
      readRouteHead(PayloadType.envelopeProto, toBinary(EnvelopeSchema, noRecipient));
    } catch (e) {
      err = e;
    }
    expect(isFleetError(err, ErrorCode.VALIDATION_MISSING_FIELD) && err.pointer).toBe("/recipient");
    const longId = buildEnvelope({ to: "beta", text: "x", id: "i".repeat(65) }, "alpha", systemClock);
    expect(() => readRouteHead(PayloadType.envelopeProto, toBinary(EnvelopeSchema, longId))).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/id" }));
  });
});
