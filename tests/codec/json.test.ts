import { toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { encodeEnvelope, envelopeFromJson, envelopeToJson, parseJsonBytes } from "../../runtime/codec/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { caught, sampleEnvelope } from "./sample.js";

describe("JSON envelope codec", () => {
  it("is lossless both ways and matches the binary form", () => {
    const env = sampleEnvelope();
    const json = envelopeToJson(env);
    expect(json).toMatchObject({ type: "MESSAGE_TYPE_REQUEST", ttlSeconds: 300, createdAt: "2026-11-20T12:00:00Z", recipient: { agent: "agent-beta" } });
    const back = envelopeFromJson(JSON.parse(JSON.stringify(json)));
    expect(encodeEnvelope(back)).toEqual(toBinary(EnvelopeSchema, env));
    expect(envelopeToJson(back)).toEqual(json);
  });

  const base = () => envelopeToJson(sampleEnvelope()) as Record<string, unknown>;
  const cases: [string, (j: Record<string, unknown>) => void, ErrorCode, string][] = [
    ["wrong type", (j) => (j.ttlSeconds = "soon"), ErrorCode.VALIDATION_WRONG_TYPE, "/ttlSeconds"],
    ["string for an array", (j) => (j.capabilitiesNeeded = "compute"), ErrorCode.VALIDATION_WRONG_TYPE, "/capabilitiesNeeded"],
    ["number in an array", (j) => (j.capabilitiesNeeded = ["a", 5]), ErrorCode.VALIDATION_WRONG_TYPE, "/capabilitiesNeeded/1"],
    ["nested wrong type", (j) => ((j.body as any).application.json = 5), ErrorCode.VALIDATION_WRONG_TYPE, "/body/application/json"],
    ["unknown enum name", (j) => (j.type = "MESSAGE_TYPE_GOSSIP"), ErrorCode.VALIDATION_UNKNOWN_ENUM, "/type"],
    ["unknown enum number", (j) => (j.priority = 42), ErrorCode.VALIDATION_UNKNOWN_ENUM, "/priority"],
    ["unknown field", (j) => (j.colour = "red"), ErrorCode.WIRE_MALFORMED, "/colour"],
    ["two oneof members", (j) => (j.recipient = { agent: "a", group: "g" }), ErrorCode.VALIDATION_OUT_OF_RANGE, "/recipient/group"],
    ["bad timestamp", (j) => (j.createdAt = "yesterday"), ErrorCode.VALIDATION_OUT_OF_RANGE, "/createdAt"],
    ["out of range", (j) => (j.ttlSeconds = -1), ErrorCode.VALIDATION_OUT_OF_RANGE, "/ttlSeconds"],
    ["missing required", (j) => delete j.sender, ErrorCode.VALIDATION_MISSING_FIELD, "/sender"],
    ["not an object", (j) => (j.security = []), ErrorCode.VALIDATION_WRONG_TYPE, "/security"],
  ];
  for (const [name, mutate, code, pointer] of cases) {
    it(`rejects ${name} with ${code} at ${pointer}`, () => {
      const j = base();
      mutate(j);
      expect(caught(() => envelopeFromJson(j))).toMatchObject({ code, pointer });
    });
  }

  it("rejects non-objects and deep nesting", () => {
    expect(caught(() => envelopeFromJson(null)).code).toBe(ErrorCode.VALIDATION_WRONG_TYPE);
    expect(caught(() => envelopeFromJson("x")).code).toBe(ErrorCode.VALIDATION_WRONG_TYPE);
    let cond: Record<string, unknown> = { always: true };
    for (let i = 0; i < 200; i++) cond = { all: { conditions: [cond] } };
    const j = base();
    j.body = { bottleLetter: { bottleId: "b", recipient: { agent: "x" }, condition: cond, payload: { json: "{}" } } };
    expect(caught(() => envelopeFromJson(j)).code).toBe(ErrorCode.WIRE_MALFORMED);
  });

  it("parses JSON bytes strictly (705 for bad UTF-8, 701 for bad JSON)", () => {
    expect(parseJsonBytes(new TextEncoder().encode('{"a":1}'))).toEqual({ a: 1 });
    expect(caught(() => parseJsonBytes(Uint8Array.of(0x22, 0xc3, 0x28, 0x22))).code).toBe(ErrorCode.WIRE_INVALID_UTF8);
    expect(caught(() => parseJsonBytes(new TextEncoder().encode("{"))).code).toBe(ErrorCode.WIRE_MALFORMED);
  });
});
