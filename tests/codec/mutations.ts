// Mutated copies of the wire fixtures' golden bytes: the input of the codec's differential
// and fast-path property tests.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../tools/generate/paths.js";

const wire = JSON.parse(readFileSync(join(repoRoot, "fixtures/wire.json"), "utf8")) as { vectors: { message: string; binary_hex: string }[] };

/** The golden bytes of every wire vector of a message type. */
export function seeds(type: string): Uint8Array[] {
  return wire.vectors.filter((v) => v.message === type).map((v) => Uint8Array.from(Buffer.from(v.binary_hex, "hex")));
}

/** A golden message of type with one to four bytes overwritten. */
export function mutatedBytes(type: string): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...seeds(type)), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([seed, edits]) => {
      const b = Uint8Array.from(seed);
      for (const [at, v] of edits) b[at % b.length] = v;
      return b;
    });
}
