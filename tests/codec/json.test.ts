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

describe("signed JSON has one reading (spec/signing.md \"Signed JSON\")", () => {
  it("finds duplicate member names at any depth, after unescaping, and nothing else", async () => {
    const { firstDuplicateMember } = await import("../../runtime/codec/i-json.js");
    expect(firstDuplicateMember('{"a":1,"b":{"c":[{"d":1,"d":2}]}}')).toBe("/b/c/0/d");
    expect(firstDuplicateMember('{"a":1,"\\u0061":2}')).toBe("/a");
    expect(firstDuplicateMember('{"a/b":1,"a/b":2}')).toBe("/a~1b");
    expect(firstDuplicateMember('{"a":"\\"a\\"","b":["a","a"],"c":{"a":1},"d":{"a":1}}')).toBeUndefined();
    expect(firstDuplicateMember('[{"x":1},{"x":2}]')).toBeUndefined();
  });

  it("refuses a duplicate member and a second spelling with 701 and a pointer, where JSON.parse alone would take the last", async () => {
    const { parseJsonBytes, envelopeFromJson } = await import("../../runtime/codec/index.js");
    const { parseSigned } = await import("../../runtime/hub/parse-signed.js");
    const { FleetError } = await import("../../runtime/errors.js");
    const good = JSON.stringify({ id: "x", sender: "a", recipient: { agent: "b" }, type: "MESSAGE_TYPE_EVENT", createdAt: "2026-11-20T12:00:00Z", ttlSeconds: 60, protocolVersion: "3.0", body: { application: { mediaType: "application/json", json: "{}" } } });
    const bytes = (t: string) => new TextEncoder().encode(t);
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof FleetError ? `${e.code} ${e.pointer}` : String(e);
      }
      return "accepted";
    };
    expect(refused(() => envelopeFromJson(parseJsonBytes(bytes(good))))).toBe("accepted");
    const dup = `${good.slice(0, -1)},"ttlSeconds":5}`;
    expect(JSON.parse(dup).ttlSeconds).toBe(5); // the silent reading this rule removes
    expect(refused(() => envelopeFromJson(parseJsonBytes(bytes(dup))))).toBe("701 /ttlSeconds");
    expect(refused(() => parseSigned("application/vnd.fleet.v1.envelope+json", bytes(dup)))).toBe("701 /ttlSeconds"); // the hub reads it the same way
    expect(refused(() => envelopeFromJson(parseJsonBytes(bytes(`${good.slice(0, -1)},"ttl_seconds":5}`))))).toBe("701 /ttl_seconds");
    const protoName = JSON.parse(good);
    delete protoName.ttlSeconds;
    protoName.ttl_seconds = 60;
    expect(refused(() => envelopeFromJson(protoName))).toBe("701 /ttl_seconds");
  });

  it("counts length limits in code points: 64 non-BMP characters fit an id, 65 do not", async () => {
    const { codePoints } = await import("../../runtime/codec/validate.js");
    const astral = "\u{1D509}";
    expect(astral.length).toBe(2);
    expect(codePoints(astral.repeat(64), 64)).toBe(64);
    expect(codePoints(astral.repeat(64))).toBe(64);
    expect(codePoints("a\uD800b", 8)).toBe(3); // a lone surrogate is one
  });
});
