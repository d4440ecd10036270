// Codec hot paths beside their anchors: our binary encode+decode (validation and the wire
// scan included) against raw protobuf-es, against JSON + ajv for the same content, and the
// frame decoder's throughput on a stream of mixed-size frames split into network-sized chunks.
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { validateEnvelope as ajvValidateEnvelope } from "../../generated/validators/fleet/v1/index.js";
import { decodeEnvelope, encodeEnvelope, encodeFrame, FrameDecoder } from "../../runtime/codec/index.js";
import { compare, median, opsPerSecond, type BenchRow, type BenchSuite } from "../harness.js";

/** A typical application message: about 1 KiB on the wire. */
function typicalEnvelope() {
  const items = Array.from({ length: 12 }, (_, i) => ({ id: `item-${i}`, score: i * 0.75, tags: ["alpha", "beta"], done: i % 2 === 0 }));
  return create(EnvelopeSchema, {
    id: "01J9Z8Q4W6X2N5T7R3K1M0P8VA",
    sender: "agent-alpha",
    recipient: { target: { case: "agent", value: "agent-beta" } },
    type: MessageType.REQUEST,
    createdAt: timestampFromMs(Date.UTC(2026, 10, 20, 12)),
    ttlSeconds: 300,
    correlationId: "corr-0001",
    threadId: "thread-0001",
    requiresAck: true,
    capabilitiesNeeded: ["compute", "storage"],
    protocolVersion: "3.0",
    security: { keyId: "ed25519:agyi3rqmswlggnlzmhyh3zgqmzvvu6dx", nonce: new Uint8Array(16).fill(9) },
    body: { kind: { case: "application", value: { mediaType: "application/json", content: { case: "json", value: JSON.stringify({ task: "rank", items }) } } } },
  });
}

function frameStream(): { stream: Uint8Array; frames: number } {
  // Mixed sizes from 40 bytes to 64 KiB, repeated to about 8 MB.
  const sizes = [40, 300, 1024, 1500, 4096, 16_384, 65_536, 700, 120, 9000];
  const parts: Uint8Array[] = [];
  let total = 0;
  let frames = 0;
  for (let i = 0; total < 8_000_000; i++) {
    const body = new Uint8Array(sizes[i % sizes.length]).fill(i & 0xff);
    const f = encodeFrame(body);
    parts.push(f);
    total += f.length;
    frames++;
  }
  const stream = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    stream.set(p, at);
    at += p.length;
  }
  return { stream, frames };
}

export const suite: BenchSuite = {
  name: "codec",
  async run(): Promise<BenchRow[]> {
    const env = typicalEnvelope();
    const bytes = encodeEnvelope(env);
    const json = toJson(EnvelopeSchema, env);
    let sink = 0;

    const ours = () => {
      sink += decodeEnvelope(encodeEnvelope(env)).ttlSeconds;
    };
    const raw = () => {
      sink += fromBinary(EnvelopeSchema, toBinary(EnvelopeSchema, env)).ttlSeconds;
    };
    const viaJson = () => {
      const parsed = JSON.parse(JSON.stringify(json)) as { ttlSeconds: number };
      if (!ajvValidateEnvelope(parsed)) throw new Error("ajv rejected the bench envelope");
      sink += parsed.ttlSeconds;
    };
    const [oursRate, rawRate] = compare(ours, raw, 7, 300);
    const [oursRate2, jsonRate] = compare(ours, viaJson, 5, 300);

    const { stream, frames } = frameStream();
    const chunk = 65_536;
    const decodeStream = () => {
      const d = new FrameDecoder();
      let n = 0;
      for (let i = 0; i < stream.length; i += chunk) n += d.push(stream.subarray(i, i + chunk)).length;
      d.end();
      if (n !== frames) throw new Error("frame count mismatch");
    };
    const streamRates = [0, 1, 2, 3, 4].map(() => opsPerSecond(decodeStream, { minMs: 300, batch: 1 }));
    const mbps = (median(streamRates) * stream.length) / 1e6;
    if (sink === 0) throw new Error("unreachable");

    const size = { envelope_bytes: bytes.length };
    return [
      { suite: "codec", name: "protobuf-es toBinary+fromBinary (raw)", rate: rawRate, unit: "ops/s", extra: size },
      { suite: "codec", name: "codec encodeEnvelope+decodeEnvelope", rate: oursRate, unit: "ops/s", anchor: "protobuf-es toBinary+fromBinary (raw)", goal: { min: 0.833, on: "ratio" }, extra: { ...size, note: "validated, strict decode; goal: at most 1.2x raw time" } },
      { suite: "codec", name: "JSON.stringify+JSON.parse+ajv", rate: jsonRate, unit: "ops/s", extra: { json_bytes: JSON.stringify(json).length } },
      { suite: "codec", name: "codec encode+decode vs JSON+ajv", rate: oursRate2, unit: "ops/s", anchor: "JSON.stringify+JSON.parse+ajv", goal: { min: 1, on: "ratio" } },
      { suite: "codec", name: "FrameDecoder mixed-size stream", rate: mbps, unit: "MB/s", goal: { min: 200, on: "rate" }, extra: { stream_bytes: stream.length, frames, chunk_bytes: chunk } },
    ];
  },
};
