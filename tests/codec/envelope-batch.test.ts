// EnvelopeBatchWriter writes exactly the bytes of an encoded EnvelopeBatch, one envelope at
// a time, refuses what would overflow its limit without losing the envelope, and validates.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeBatchSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodeMessage, encodeEnvelope, EnvelopeBatchWriter } from "../../runtime/codec/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { caught, sampleEnvelope } from "./sample.js";

describe("EnvelopeBatchWriter", () => {
  it("writes the bytes of EnvelopeBatch{envelopes}, growing past its initial buffer", () => {
    const envs = Array.from({ length: 40 }, (_, i) => sampleEnvelope(JSON.stringify({ i, pad: "y".repeat(i * 40) })));
    const w = new EnvelopeBatchWriter(64);
    for (const e of envs) expect(w.addEnvelope(e)).toBe(true);
    const expected = toBinary(EnvelopeBatchSchema, create(EnvelopeBatchSchema, { envelopes: envs.map(encodeEnvelope) }));
    expect(w.bytes()).toEqual(expected);
    expect(w.count).toBe(40);
    expect(decodeMessage(EnvelopeBatchSchema, w.bytes()).envelopes).toEqual(envs.map(encodeEnvelope));
  });

  it("gives a lone envelope's own bytes, refuses one that would overflow, and keeps an empty batch open to anything", () => {
    const a = sampleEnvelope();
    const w = new EnvelopeBatchWriter();
    const size = encodeEnvelope(a).length;
    expect(w.addEnvelope(a, 1)).toBe(true); // an empty batch takes it whatever the limit
    expect(w.only()).toEqual(encodeEnvelope(a));
    expect(w.addEnvelope(sampleEnvelope(), size + 2)).toBe(false);
    expect(w.count).toBe(1);
    expect(w.addEnvelope(sampleEnvelope(), 4 * size)).toBe(true);
    expect(w.count).toBe(2);
  });

  it("an invalid envelope throws its code and adds nothing", () => {
    const w = new EnvelopeBatchWriter();
    w.addEnvelope(sampleEnvelope());
    const before = w.bytes().slice();
    expect(caught(() => w.addEnvelope({ ...sampleEnvelope(), sender: "" })).code).toBe(ErrorCode.VALIDATION_MISSING_FIELD);
    expect(w.bytes()).toEqual(before);
    expect(w.count).toBe(1);
  });

  it("reset empties it and gives back a grown buffer only beyond keepBytes", () => {
    const w = new EnvelopeBatchWriter(16);
    for (let i = 0; i < 10; i++) w.addEnvelope(sampleEnvelope());
    const grown = w.capacity;
    expect(grown).toBeGreaterThan(16);
    w.reset(1 << 20);
    expect(w.count).toBe(0);
    expect(w.byteLength).toBe(0);
    expect(w.capacity).toBe(grown);
    const env = sampleEnvelope();
    w.addEnvelope(env);
    expect(w.only()).toEqual(encodeEnvelope(env));
    w.reset(1024);
    expect(w.capacity).toBe(16);
  });
});
