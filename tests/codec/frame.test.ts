import { describe, expect, it } from "vitest";
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME_BYTES, decodeFrame, encodeFrame } from "../../runtime/codec/index.js";
import { encodeFrameHeader } from "../../runtime/codec/frame.js";
import { ErrorCode } from "../../runtime/errors.js";
import { caught } from "./sample.js";

const bodies = [Uint8Array.of(1), new Uint8Array(300).fill(2), new Uint8Array(5_000).fill(3), Uint8Array.of(4, 5)];
const stream = () => Uint8Array.from(Buffer.concat(bodies.map((b) => encodeFrame(b))));
const header = (length: number, magic = [0x46, 0x50, 1, 0]) => Uint8Array.of(...magic, length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255);

describe("frames", () => {
  it("encodes the header of spec/frame.md", () => {
    expect(Buffer.from(encodeFrame(Uint8Array.of(0xaa, 0xbb))).toString("hex")).toBe("465001000000" + "0002aabb");
    expect(FRAME_HEADER_BYTES).toBe(8);
    expect(MAX_FRAME_BYTES).toBe(2_097_152);
  });

  it("encodeFrameHeader is encodeFrame's first 8 bytes, with the same checks", () => {
    for (const length of [1, 255, 256, 65_536, 1_000_000, MAX_FRAME_BYTES]) {
      expect(encodeFrameHeader(length)).toEqual(header(length));
      if (length <= 65_536) expect(encodeFrame(new Uint8Array(length)).subarray(0, FRAME_HEADER_BYTES)).toEqual(encodeFrameHeader(length));
    }
    expect(encodeFrameHeader(1024, 1024)).toEqual(header(1024));
    // Headers come from a shared slab, but each keeps its own bytes (a queued write holds it).
    const held = Array.from({ length: 3_000 }, (_, i) => encodeFrameHeader(i + 1));
    held.forEach((h, i) => expect(h).toEqual(header(i + 1)));
    for (const bad of [0, MAX_FRAME_BYTES + 1, -1, 1.5, Number.NaN]) expect(caught(() => encodeFrameHeader(bad)).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caught(() => encodeFrameHeader(1025, 1024)).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caught(() => encodeFrameHeader(10, MAX_FRAME_BYTES + 1)).code).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
  });

  it("decodes coalesced frames in one chunk", () => {
    const d = new FrameDecoder();
    expect(d.push(stream())).toEqual(bodies);
    d.end();
  });

  it("decodes frames split at every possible size", () => {
    const s = stream();
    for (const size of [1, 3, 7, 8, 9, 301, 4096]) {
      const d = new FrameDecoder();
      const got: Uint8Array[] = [];
      for (let i = 0; i < s.length; i += size) got.push(...d.push(s.subarray(i, i + size)));
      expect(got).toEqual(bodies);
      expect(d.idle).toBe(true);
      d.end();
    }
  });

  it("reassembles a body larger than the initial buffer from many chunks", () => {
    const big = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
    const s = encodeFrame(big);
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (let i = 0; i < s.length; i += 999) got.push(...d.push(s.subarray(i, i + 999)));
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0]).equals(Buffer.from(big))).toBe(true);
    d.end();
  });

  it("returns bodies that do not alias the input", () => {
    const s = stream();
    const [first] = new FrameDecoder().push(s);
    s[FRAME_HEADER_BYTES] = 99;
    expect(first[0]).toBe(1);
  });

  it("rejects a zero or oversize length (703) before any body arrives", () => {
    expect(caught(() => new FrameDecoder().push(header(0))).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caught(() => new FrameDecoder().push(header(MAX_FRAME_BYTES + 1))).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caught(() => new FrameDecoder({ maxFrameBytes: 1024 }).push(header(1025))).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    const split = new FrameDecoder();
    split.push(header(MAX_FRAME_BYTES + 1).subarray(0, 5));
    expect(caught(() => split.push(header(MAX_FRAME_BYTES + 1).subarray(5))).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caught(() => encodeFrame(new Uint8Array(0))).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caught(() => encodeFrame(new Uint8Array(2048), 1024)).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
  });

  it("rejects bad magic, version or flags (704), as soon as the byte arrives", () => {
    expect(caught(() => new FrameDecoder().push(header(1, [0x47, 0x50, 1, 0]))).code).toBe(ErrorCode.WIRE_BAD_MAGIC);
    expect(caught(() => new FrameDecoder().push(header(1, [0x46, 0x50, 2, 0]))).code).toBe(ErrorCode.WIRE_BAD_MAGIC);
    expect(caught(() => new FrameDecoder().push(header(1, [0x46, 0x50, 1, 1]))).code).toBe(ErrorCode.WIRE_BAD_MAGIC);
    expect(caught(() => new FrameDecoder().push(new TextEncoder().encode("G"))).code).toBe(ErrorCode.WIRE_BAD_MAGIC);
    const d = new FrameDecoder();
    d.push(Uint8Array.of(0x46));
    expect(caught(() => d.push(Uint8Array.of(0x51))).code).toBe(ErrorCode.WIRE_BAD_MAGIC);
  });

  it("reports a stream that ends inside a frame (702) and stays failed after an error", () => {
    const s = stream();
    const d = new FrameDecoder();
    d.push(s.subarray(0, s.length - 1));
    expect(caught(() => d.end()).code).toBe(ErrorCode.WIRE_TRUNCATED);
    const h = new FrameDecoder();
    h.push(s.subarray(0, 3));
    expect(caught(() => h.end()).code).toBe(ErrorCode.WIRE_TRUNCATED);
    const bad = new FrameDecoder();
    caught(() => bad.push(header(0)));
    expect(caught(() => bad.push(stream())).code).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
  });

  it("decodes exactly one frame for message transports", () => {
    expect(decodeFrame(encodeFrame(Uint8Array.of(9)))).toEqual(Uint8Array.of(9));
    expect(caught(() => decodeFrame(stream())).code).toBe(ErrorCode.WIRE_MALFORMED);
    expect(caught(() => decodeFrame(encodeFrame(Uint8Array.of(9, 9)).subarray(0, 9))).code).toBe(ErrorCode.WIRE_TRUNCATED);
    expect(caught(() => new FrameDecoder({ maxFrameBytes: MAX_FRAME_BYTES + 1 })).code).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
  });
});
