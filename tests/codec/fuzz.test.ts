// Property tests: random and mutated bytes (and JSON) fed to the decoders produce either a
// message or a FleetError, never another exception, and every run terminates (bounded count).
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeEnvelope, decodePacket, envelopeFromJson, FrameDecoder } from "../../runtime/codec/index.js";
import { FleetError } from "../../runtime/errors.js";
import { repoRoot } from "../../tools/generate/paths.js";

const wire = JSON.parse(readFileSync(join(repoRoot, "fixtures/wire.json"), "utf8")) as { vectors: { message: string; json: unknown; binary_hex: string; framed_hex?: string }[] };
const bytesOf = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const envelopes = wire.vectors.filter((v) => v.message === "fleet.v1.Envelope").map((v) => bytesOf(v.binary_hex));
const packets = wire.vectors.filter((v) => v.message === "fleet.v1.Packet").map((v) => bytesOf(v.binary_hex));
const frames = wire.vectors.filter((v) => v.framed_hex).map((v) => bytesOf(v.framed_hex!));

/** Runs fn; anything thrown must be a FleetError. */
function onlyFleetErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof FleetError)) throw new Error(`non-FleetError escaped: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    expect(e.code).toBeGreaterThan(0);
  }
}

// A valid message with some bytes overwritten, some removed and some inserted.
const mutated = (seeds: Uint8Array[]) =>
  fc
    .record({
      seed: fc.constantFrom(...seeds),
      edits: fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom("set", "cut", "insert"), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
    })
    .map(({ seed, edits }) => {
      let b = Array.from(seed);
      for (const e of edits) {
        const at = b.length ? e.at % b.length : 0;
        if (e.op === "set") b[at] = e.byte;
        else if (e.op === "cut") b = b.slice(0, at).concat(b.slice(at + 1 + (e.byte % 8)));
        else b.splice(at, 0, e.byte);
      }
      return Uint8Array.from(b);
    });

const RUNS = { numRuns: 1500, seed: 20261120 };

describe("decoders under random and mutated input", () => {
  it("decodeEnvelope", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => onlyFleetErrors(() => decodeEnvelope(b))), RUNS);
    fc.assert(fc.property(mutated(envelopes), (b) => onlyFleetErrors(() => decodeEnvelope(b))), RUNS);
  });

  it("decodePacket", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => onlyFleetErrors(() => decodePacket(b))), RUNS);
    fc.assert(fc.property(mutated(packets), (b) => onlyFleetErrors(() => decodePacket(b))), RUNS);
  });

  it("FrameDecoder, with random chunking", () => {
    const chunked = (stream: fc.Arbitrary<Uint8Array>) => fc.tuple(stream, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 16 }));
    const feed = ([b, sizes]: [Uint8Array, number[]]) =>
      onlyFleetErrors(() => {
        const d = new FrameDecoder({ maxFrameBytes: 4096 });
        let i = 0;
        for (let k = 0; i < b.length; k++) {
          const n = sizes[k % sizes.length];
          for (const body of d.push(b.subarray(i, i + n))) onlyFleetErrors(() => decodePacket(body));
          i += n;
        }
        d.end();
      });
    fc.assert(fc.property(chunked(fc.uint8Array({ maxLength: 256 })), feed), RUNS);
    fc.assert(fc.property(chunked(mutated(frames)), feed), RUNS);
  });

  it("envelopeFromJson", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (j) => onlyFleetErrors(() => envelopeFromJson(j))), { numRuns: 500, seed: 7 });
    const sample = wire.vectors.find((v) => v.message === "fleet.v1.Envelope")!.json as Record<string, unknown>;
    const keys = Object.keys(sample);
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 2 }), (key, value) => onlyFleetErrors(() => envelopeFromJson({ ...sample, [key]: value }))),
      { numRuns: 1000, seed: 11 },
    );
  });
});
