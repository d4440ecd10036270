import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../../runtime/crypto/bytes.js";
import { pae, paeChunks } from "../../runtime/crypto/pae.js";

describe("PAE", () => {
  it("paeChunks streams exactly the bytes of pae (bounded property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 700 })), { maxLength: 6 }), (domain, parts) => {
        expect(concatBytes(...paeChunks(domain, ...parts))).toEqual(pae(domain, ...parts));
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it("different splits never encode alike", () => {
    expect(pae("d", "ab", "c")).not.toEqual(pae("d", "a", "bc"));
    expect(pae("d", "abc")).not.toEqual(pae("d", "ab", "c"));
    expect(pae("d1", "x")).not.toEqual(pae("d", "1x"));
  });
});
