// The hand-written session Packet codec is byte-identical to the generic codec, and hands
// anything unusual back to it.
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PacketSchema, SessionEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodePacket, encodePacket } from "../../runtime/codec/index.js";
import { decodeSessionPacket, encodeSessionPacket } from "../../runtime/nats/session-packet.js";

const sessionEnvelope = fc.record({
  sessionId: fc.string({ minLength: 1, maxLength: 80 }),
  sequence: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
  payloadType: fc.constantFrom("application/vnd.fleet.v1.envelope+proto", "application/vnd.fleet.v1.envelope+json"),
  payload: fc.uint8Array({ minLength: 1, maxLength: 3000 }),
  mac: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});

describe("session packet fast path", () => {
  it("encodes exactly as encodePacket and decodes back", () => {
    fc.assert(
      fc.property(sessionEnvelope, (fields) => {
        const se = create(SessionEnvelopeSchema, fields);
        const generic = encodePacket(create(PacketSchema, { kind: { case: "session", value: se } }));
        const fast = encodeSessionPacket(se);
        expect(fast).toEqual(generic);
        expect(decodeSessionPacket(fast)).toEqual(se);
        expect(decodePacket(fast).kind.value).toEqual(se);
      }),
      { numRuns: 200 },
    );
  });

  it("declines what it does not recognise exactly", () => {
    const se = create(SessionEnvelopeSchema, { sessionId: "s", sequence: 1n, payloadType: "t", payload: new Uint8Array([1]), mac: new Uint8Array(32) });
    const good = encodeSessionPacket(se);
    expect(decodeSessionPacket(good)).toBeDefined();
    expect(decodeSessionPacket(good.subarray(0, good.length - 1))).toBeUndefined(); // truncated
    expect(decodeSessionPacket(new Uint8Array([...good, 0]))).toBeUndefined(); // trailing byte
    const badUtf8 = encodeSessionPacket(create(SessionEnvelopeSchema, { ...se, sessionId: "\u00e9" }));
    badUtf8[4] = 0xff; // break the UTF-8 of the session id
    expect(decodeSessionPacket(badUtf8)).toBeUndefined();
    expect(decodeSessionPacket(encodeSessionPacket(create(SessionEnvelopeSchema, { ...se, sequence: 0n })))).toBeUndefined();
    expect(decodeSessionPacket(new Uint8Array([0x0a, 0x00]))).toBeUndefined(); // a signed packet
  });
});
