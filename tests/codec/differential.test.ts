// The compiled reader and writer agree with protobuf-es: the same bytes out, the same
// messages in, on the fixtures and on random mutations (ours may only be stricter).
import { equals, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { parseMessage } from "../../runtime/codec/index.js";
import { readBinary } from "../../runtime/codec/binary-reader.js";
import { writeBinary } from "../../runtime/codec/binary-writer.js";
import { FleetError } from "../../runtime/errors.js";
import { allSamples } from "../../tools/fixtures/samples.js";
import { repoRoot } from "../../tools/generate/paths.js";

const wire = JSON.parse(readFileSync(join(repoRoot, "fixtures/wire.json"), "utf8")) as { vectors: { message: string; binary_hex: string }[] };
const seeds = (type: string) => wire.vectors.filter((v) => v.message === type).map((v) => Uint8Array.from(Buffer.from(v.binary_hex, "hex")));

describe("compiled codec vs protobuf-es", () => {
  it("writes toBinary's exact bytes and reads fromBinary's exact messages for every sample", () => {
    for (const s of allSamples()) {
      const bytes = toBinary(s.schema, s.message);
      expect(writeBinary(s.schema, s.message)).toEqual(bytes);
      const ours = readBinary(s.schema, bytes);
      expect(equals(s.schema, ours as never, fromBinary(s.schema, bytes))).toBe(true);
      expect(writeBinary(s.schema, ours)).toEqual(bytes);
    }
  });

  const agree = (schema: DescMessage, b: Uint8Array) => {
    let ours;
    try {
      ours = parseMessage(schema, b);
    } catch (e) {
      expect(e).toBeInstanceOf(FleetError);
      return;
    }
    const theirs = fromBinary(schema, b); // must not throw where ours accepted
    expect(equals(schema, ours as never, theirs)).toBe(true);
    expect(writeBinary(schema, ours)).toEqual(toBinary(schema, theirs));
  };

  for (const [schema, type] of [[EnvelopeSchema, "fleet.v1.Envelope"], [PacketSchema, "fleet.v1.Packet"]] as const) {
    it(`agrees on mutated ${type} bytes`, () => {
      const mutated = fc
        .tuple(fc.constantFrom(...seeds(type)), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
        .map(([seed, edits]) => {
          const b = Uint8Array.from(seed);
          for (const [at, v] of edits) b[at % b.length] = v;
          return b;
        });
      fc.assert(fc.property(mutated, (b) => agree(schema, b)), { numRuns: 1500, seed: 42 });
    });
  }
});
