// The generated straight-line codec (generated/codec, tools/generate/fast-codec.ts) only ever
// changes speed: on every sample it takes the message itself and agrees byte for byte with
// the compiled codec and protobuf-es; on anything unusual it steps aside, and the compiled
// codec's result or exact error stands.
import { create, equals, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastDecoders, fastEncoders, fastValid, fastZeros } from "../../generated/codec/fleet/v1/fast.js";
import * as envelopePb from "../../generated/proto/fleet/v1/envelope_pb.js";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { readBinary, readBinaryCompiled, readBinaryFast } from "../../runtime/codec/binary-reader.js";
import { writeBinary, writeBinaryCompiled, writeBinaryFast } from "../../runtime/codec/binary-writer.js";
import { zeroFactory } from "../../runtime/codec/index.js";
import { validateMessage, validateMessageCompiled } from "../../runtime/codec/validate.js";
import { allSamples } from "../../tools/fixtures/samples.js";
import { mutatedBytes } from "./mutations.js";
import { caught, sampleEnvelope } from "./sample.js";


/** Every message type reachable from a sample, with its descriptor. */
function descriptors(): DescMessage[] {
  const all = new Map<string, DescMessage>();
  const visit = (d: DescMessage) => {
    if (all.has(d.typeName)) return;
    all.set(d.typeName, d);
    for (const f of d.fields) if (f.message) visit(f.message);
  };
  for (const s of allSamples()) visit(s.schema);
  return [...all.values()];
}

describe("generated fast codec", () => {
  it("covers every message the samples reach, and its zero messages equal create()", () => {
    for (const d of descriptors()) {
      expect(fastEncoders[d.typeName], d.typeName).toBeTypeOf("function");
      expect(fastDecoders[d.typeName], d.typeName).toBeTypeOf("function");
      const zero = fastZeros[d.typeName]();
      expect(zero).toStrictEqual(create(d));
      expect(Object.keys(zero)).toEqual(Object.keys(create(d)));
      expect(zeroFactory(d)()).not.toBe(zeroFactory(d)()); // fresh objects, no shared lists
    }
  });

  it("takes every sample itself and agrees with the compiled codec and protobuf-es", () => {
    for (const s of allSamples()) {
      const bytes = toBinary(s.schema, s.message);
      expect(writeBinaryFast(s.schema, s.message), s.name).toEqual(bytes);
      expect(writeBinaryCompiled(s.schema, s.message)).toEqual(bytes);
      const fast = readBinaryFast(s.schema, bytes);
      expect(fast, s.name).toBeDefined();
      expect(fast).toStrictEqual(readBinaryCompiled(s.schema, bytes));
      expect(equals(s.schema, fast as never, fromBinary(s.schema, bytes))).toBe(true);
    }
  });

  it("steps aside for unknown fields, repeated message fields and wrong types, leaving the compiled result", () => {
    const env = sampleEnvelope();
    const bytes = toBinary(EnvelopeSchema, env);
    // An unknown field 99 (varint 1) appended: kept by the compiled reader, re-encoded by the compiled writer.
    const unknown = Uint8Array.from([...bytes, 0x98, 0x06, 0x01]);
    expect(readBinaryFast(EnvelopeSchema, unknown)).toBeUndefined();
    const kept = readBinary(EnvelopeSchema, unknown);
    expect(kept.$unknown).toHaveLength(1);
    expect(writeBinaryFast(EnvelopeSchema, kept)).toBeUndefined();
    expect(writeBinary(EnvelopeSchema, kept)).toEqual(unknown);
    // created_at twice: protobuf merges the two occurrences; the compiled reader does that.
    const ts = toBinary(EnvelopeSchema, create(EnvelopeSchema, { createdAt: { seconds: 5n } }));
    const twice = Uint8Array.from([...bytes, ...ts]);
    expect(readBinaryFast(EnvelopeSchema, twice)).toBeUndefined();
    expect(readBinary(EnvelopeSchema, twice).createdAt?.seconds).toBe(5n);
    // A number where a string belongs: no bytes from the fast path, the compiled writer's exact error.
    const bad = { ...env, sender: 7 as unknown as string };
    expect(writeBinaryFast(EnvelopeSchema, bad)).toBeUndefined();
    expect(caught(() => writeBinary(EnvelopeSchema, bad)).code).toBe(caught(() => writeBinaryCompiled(EnvelopeSchema, bad)).code);
    // A 64-bit value past 2^53 goes through the compiled writer, with protobuf-es's bytes.
    const late = { ...env, createdAt: create(TimestampSchema, { seconds: 2n ** 60n }) };
    expect(writeBinaryFast(EnvelopeSchema, late)).toBeUndefined();
    expect(writeBinary(EnvelopeSchema, late)).toEqual(toBinary(EnvelopeSchema, late));
  });

  for (const [schema, type] of [[EnvelopeSchema, "fleet.v1.Envelope"], [PacketSchema, "fleet.v1.Packet"]] as const) {
    it(`decodes mutated ${type} bytes exactly as the compiled reader does (message or error code)`, () => {
      const mutated = mutatedBytes(type);
      const outcome = (read: () => unknown) => {
        try {
          return { message: read() };
        } catch (e) {
          return { code: caught(() => { throw e; }).code };
        }
      };
      fc.assert(
        fc.property(mutated, (b) => {
          expect(outcome(() => readBinary(schema, b))).toStrictEqual(outcome(() => readBinaryCompiled(schema, b)));
        }),
        { numRuns: 1500, seed: 7 },
      );
    });
  }

  it("certainly-valid checks accept every sample and never accept what the compiled validator refuses", () => {
    for (const s of allSamples()) {
      const check = fastValid[s.schema.typeName];
      if (check) expect(check(s.message), s.name).toBe(true);
      expect(() => validateMessageCompiled(s.schema, s.message)).not.toThrow();
    }
    const env = sampleEnvelope();
    const broken = [
      { ...env, id: "" },
      { ...env, id: "x".repeat(65) },
      { ...env, sender: 5 },
      { ...env, type: 99 },
      { ...env, priority: 42 },
      { ...env, recipient: undefined },
      { ...env, recipient: { $typeName: "fleet.v1.Recipient", target: { case: "broadcast", value: false } } },
      { ...env, recipient: { $typeName: "fleet.v1.Recipient", target: { case: undefined } } },
      { ...env, ttlSeconds: 0 },
      { ...env, body: { $typeName: "fleet.v1.Body", kind: { case: "application", value: null } } },
    ];
    const outcome = (validate: () => void) => {
      try {
        validate();
        return "valid";
      } catch (e) {
        return e instanceof Error ? `${e.name} ${(e as { code?: number }).code ?? ""} ${(e as { pointer?: string }).pointer ?? ""}` : String(e);
      }
    };
    for (const b of broken) {
      // Never certain (it may throw on a misshapen message): the compiled validator decides, with its own verdict and error.
      let certain = false;
      try {
        certain = fastValid["fleet.v1.Envelope"](b as never);
      } catch {
        certain = false;
      }
      expect(certain).toBe(false);
      expect(outcome(() => validateMessage(EnvelopeSchema, b))).toBe(outcome(() => validateMessageCompiled(EnvelopeSchema, b)));
      expect(outcome(() => validateMessage(EnvelopeSchema, b))).not.toMatch(/^TypeError/);
    }
  });

  it("certainly-valid checks agree with the compiled validator on decoded mutations", () => {
    const mutated = mutatedBytes("fleet.v1.Envelope");
    let accepted = 0;
    fc.assert(
      fc.property(mutated, (b) => {
        let m;
        try {
          m = readBinary(EnvelopeSchema, b);
        } catch {
          return;
        }
        let compiledOk = true;
        try {
          validateMessageCompiled(EnvelopeSchema, m);
        } catch {
          compiledOk = false;
        }
        if (fastValid["fleet.v1.Envelope"](m)) {
          accepted++;
          expect(compiledOk).toBe(true);
        }
      }),
      { numRuns: 1500, seed: 11 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it("is used by the codec entry points (not only reachable from tests)", () => {
    expect(Object.keys(envelopePb).length).toBeGreaterThan(0);
    const env = sampleEnvelope();
    expect(readBinaryFast(EnvelopeSchema, writeBinary(EnvelopeSchema, env))).toStrictEqual(readBinary(EnvelopeSchema, writeBinary(EnvelopeSchema, env)));
  });
});
