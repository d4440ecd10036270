// A typical application envelope for codec tests.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";

export function sampleEnvelope(json = '{"task":"index","shard":3}'): Envelope {
  return create(EnvelopeSchema, {
    id: "01J0000000000000000000000A",
    sender: "agent-alpha",
    recipient: { target: { case: "agent", value: "agent-beta" } },
    type: MessageType.REQUEST,
    createdAt: timestampFromMs(Date.UTC(2026, 10, 20, 12, 0, 0)),
    ttlSeconds: 300,
    protocolVersion: "3.0",
    capabilitiesNeeded: ["compute"],
    requiresAck: true,
    security: { keyId: "ed25519:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nonce: new Uint8Array(16).fill(7) },
    body: { kind: { case: "application", value: { mediaType: "application/json", content: { case: "json", value: json } } } },
  });
}

/** Runs fn and returns the FleetError it throws (or fails). */
export function caught(fn: () => unknown): { code: number; pointer: string; name: string } {
  try {
    fn();
  } catch (e) {
    return e as { code: number; pointer: string; name: string };
  }
  throw new Error("expected a throw");
}
