// The hub's routing fast path reads the same fields the full decoder would, and refuses
// what the full decoder refuses for those fields.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { encodePacket, PayloadType } from "../../runtime/codec/index.js";
import { generateIdentity, signEnvelope } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { readRouteEnvelope, readSignedPacket } from "../../runtime/hub/route-header.js";

describe("route header", () => {
  const id = generateIdentity("alpha");

  it("reads the routing fields of a signed packet in place", () => {
    const env = buildEnvelope({ to: "group:ops", json: { big: "x".repeat(2000) }, requiresAck: true, correlationId: "c1", ttlSeconds: 42 }, "alpha", systemClock);
    const signed = signEnvelope(env, id);
    const view = readSignedPacket(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } })))!;
    expect(view).toMatchObject({ payloadType: PayloadType.envelopeProto, keyId: id.keyId, sigLength: 64 });
    const header = readRouteEnvelope(view.payloadType, view.payload)!;
    expect(header.id).toBe(env.id);
    expect(header.sender).toBe("alpha");
    expect(header.recipient?.target).toEqual({ case: "group", value: "ops" });
    expect(header.createdAt?.seconds).toBe(env.createdAt?.seconds);
    expect([header.ttlSeconds, header.requiresAck, header.correlationId, header.security?.keyId]).toEqual([42, true, "c1", id.keyId]);
    expect(header.body).toBeUndefined();
  });

  it("is not used for session packets or JSON payloads", () => {
    expect(readSignedPacket(encodePacket(create(PacketSchema, { kind: { case: "session", value: { sessionId: "s", sequence: 1n, payloadType: PayloadType.envelopeProto, payload: new Uint8Array([1]), mac: new Uint8Array(32) } } })))).toBeUndefined();
    expect(readRouteEnvelope(PayloadType.envelopeJson, new Uint8Array([123, 125]))).toBeUndefined();
  });

  it("refuses malformed bytes (701) and missing routing fields (707/709) with pointers", () => {
    expect(() => readRouteEnvelope(PayloadType.envelopeProto, new Uint8Array([0x0a, 0x7f, 0x01]))).toThrow(expect.objectContaining({ code: ErrorCode.WIRE_MALFORMED }));
    const noRecipient = buildEnvelope({ to: "beta", text: "x" }, "alpha", systemClock);
    noRecipient.recipient = undefined;
    let err: unknown;
    try {
      readRouteEnvelope(PayloadType.envelopeProto, toBinary(EnvelopeSchema, noRecipient));
    } catch (e) {
      err = e;
    }
    expect(isFleetError(err, ErrorCode.VALIDATION_MISSING_FIELD) && err.pointer).toBe("/recipient");
    const longId = buildEnvelope({ to: "beta", text: "x", id: "i".repeat(65) }, "alpha", systemClock);
    expect(() => readRouteEnvelope(PayloadType.envelopeProto, toBinary(EnvelopeSchema, longId))).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/id" }));
  });
});
