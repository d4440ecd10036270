import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema, type MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodeEnvelope, decodePacket, encodeEnvelope, encodePacket } from "../../runtime/codec/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { caught, sampleEnvelope } from "./sample.js";

const raw = (env = sampleEnvelope()) => toBinary(EnvelopeSchema, env);

describe("binary envelope codec", () => {
  it("round-trips losslessly, unknown fields included", () => {
    const env = sampleEnvelope();
    const bytes = encodeEnvelope(env);
    expect(bytes).toEqual(raw(env));
    const withUnknown = Uint8Array.of(...bytes, 0xa8, 0x1f, 0x05); // field 501, varint 5
    const back = decodeEnvelope(withUnknown);
    expect(back.sender).toBe("agent-alpha");
    expect(encodeEnvelope(back)).toEqual(withUnknown);
  });

  it("rejects an unknown enum value with 706 and a pointer", () => {
    const env = sampleEnvelope();
    env.type = 99 as MessageType;
    const e = caught(() => decodeEnvelope(raw(env)));
    expect(e).toBeInstanceOf(FleetError);
    expect([e.code, e.pointer]).toEqual([ErrorCode.VALIDATION_UNKNOWN_ENUM, "/type"]);
  });

  it("rejects invalid UTF-8 in a string with 705", () => {
    const bytes = raw();
    const at = Buffer.from(bytes).indexOf(Buffer.from("agent-alpha"));
    bytes[at] = 0xc3;
    bytes[at + 1] = 0x28;
    expect(caught(() => decodeEnvelope(bytes)).code).toBe(ErrorCode.WIRE_INVALID_UTF8);
  });

  it("rejects truncated and garbage bytes with 701", () => {
    const bytes = raw();
    expect(caught(() => decodeEnvelope(bytes.subarray(0, bytes.length - 3))).code).toBe(ErrorCode.WIRE_MALFORMED);
    expect(caught(() => decodeEnvelope(Uint8Array.of(0xff, 0xff, 0xff))).code).toBe(ErrorCode.WIRE_MALFORMED);
  });

  it("rejects a known field with the wrong wire type with 708", () => {
    // ttl_seconds (field 7) sent length-delimited instead of as a varint.
    const bytes = Uint8Array.of(...raw(), 0x3a, 0x01, 0x05);
    const e = caught(() => decodeEnvelope(bytes));
    expect([e.code, e.pointer]).toEqual([ErrorCode.VALIDATION_WRONG_TYPE, "/ttlSeconds"]);
  });

  it("names the missing required field (707)", () => {
    for (const [mutate, pointer] of [
      [(e) => (e.sender = ""), "/sender"],
      [(e) => (e.ttlSeconds = 0), "/ttlSeconds"],
      [(e) => (e.createdAt = undefined), "/createdAt"],
      [(e) => (e.recipient = undefined), "/recipient"],
      [(e) => (e.recipient = create(EnvelopeSchema).recipient ?? { $typeName: "fleet.v1.Recipient", target: { case: undefined } }), "/recipient"],
      [(e) => (e.body = undefined), "/body"],
      [(e) => (e.body!.kind = { case: undefined }), "/body"],
    ] as [(e: ReturnType<typeof sampleEnvelope>) => void, string][]) {
      const env = sampleEnvelope();
      mutate(env);
      const e = caught(() => decodeEnvelope(raw(env)));
      expect([e.code, e.pointer]).toEqual([ErrorCode.VALIDATION_MISSING_FIELD, pointer]);
      expect(caught(() => encodeEnvelope(env)).code).toBe(ErrorCode.VALIDATION_MISSING_FIELD);
    }
  });

  it("enforces id, name and payload limits (709)", () => {
    const longId = sampleEnvelope();
    longId.id = "x".repeat(65);
    expect(caught(() => encodeEnvelope(longId))).toMatchObject({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/id" });
    const longName = sampleEnvelope();
    longName.sender = "a".repeat(129);
    expect(caught(() => decodeEnvelope(raw(longName)))).toMatchObject({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/sender" });
    const big = sampleEnvelope(`"${"é".repeat(524_288)}"`); // 1 MiB + 2 bytes of UTF-8
    expect(caught(() => decodeEnvelope(raw(big)))).toMatchObject({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/body/application/json" });
    const fits = sampleEnvelope(`"${"a".repeat(1_048_574)}"`);
    expect(decodeEnvelope(raw(fits)).id).toBe(fits.id);
    const broadcastFalse = sampleEnvelope();
    broadcastFalse.recipient = { $typeName: "fleet.v1.Recipient", target: { case: "broadcast", value: false } };
    expect(caught(() => encodeEnvelope(broadcastFalse))).toMatchObject({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/recipient/broadcast" });
  });

  it("requires exactly one of body and bodyCiphertext", () => {
    const both = sampleEnvelope();
    both.bodyCiphertext = Uint8Array.of(1, 2, 3);
    expect(caught(() => encodeEnvelope(both))).toMatchObject({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/body" });
    both.body = undefined;
    expect(caught(() => encodeEnvelope(both))).toMatchObject({ code: ErrorCode.VALIDATION_MISSING_FIELD, pointer: "/security/encryption" });
  });
});

describe("binary packet codec", () => {
  const packet = () =>
    create(PacketSchema, {
      kind: { case: "signed", value: { payloadType: "application/vnd.fleet.v1.envelope+proto", payload: raw(), signature: { scheme: SignatureScheme.ED25519, keyId: "ed25519:k", sig: new Uint8Array(64) } } },
    });

  it("round-trips", () => {
    const p = packet();
    expect(decodePacket(encodePacket(p))).toEqual(p);
  });

  it("validates the container", () => {
    const p = packet();
    if (p.kind.case === "signed") p.kind.value.signature!.scheme = 7 as SignatureScheme;
    expect(caught(() => decodePacket(toBinary(PacketSchema, p)))).toMatchObject({ code: ErrorCode.VALIDATION_UNKNOWN_ENUM, pointer: "/signed/signature/scheme" });
    expect(caught(() => decodePacket(new Uint8Array(0)))).toMatchObject({ code: ErrorCode.VALIDATION_MISSING_FIELD, pointer: "" });
  });
});
