// The compiled reader and writer agree with protobuf-es: the same bytes out, the same
// messages in, on the fixtures and on random mutations (ours may only be stricter).
import { equals, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { parseMessage } from "../../runtime/codec/index.js";
import { readBinary } from "../../runtime/codec/binary-reader.js";
import { writeBinary } from "../../runtime/codec/binary-writer.js";
import { FleetError } from "../../runtime/errors.js";
import { allSamples } from "../../tools/fixtures/samples.js";
import { mutatedBytes } from "./mutations.js";


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
      const mutated = mutatedBytes(type);
      fc.assert(fc.property(mutated, (b) => agree(schema, b)), { numRuns: 1500, seed: 42 });
    });
  }
});
