// Shared builders for the crypto tests: fixed seeds and a complete envelope.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { identityFromSeed } from "../../runtime/crypto/index.js";
import { FleetError } from "../../runtime/errors.js";

export const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

export function seed(n: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (i + n) & 0xff);
}

export const alice = identityFromSeed("agent-alice", seed(1));
export const bob = identityFromSeed("agent-bob", seed(2));
export const mallory = identityFromSeed("agent-mallory", seed(3));

let counter = 0;
export function envelope(overrides: Omit<MessageInitShape<typeof EnvelopeSchema>, "$typeName"> = {}, at = T0): Envelope {
  counter++;
  return create(EnvelopeSchema, {
    id: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    sender: "agent-alice",
    recipient: { target: { case: "agent", value: "agent-bob" } },
    type: MessageType.REQUEST,
    createdAt: timestampFromMs(at),
    ttlSeconds: 300,
    protocolVersion: "3.0",
    body: { kind: { case: "application", value: { mediaType: "application/json", content: { case: "json", value: '{"task":"list"}' } } } },
    ...overrides,
  });
}

/** The FleetError code fn throws, or "none"; anything else thrown fails the test. */
export function errorCode(fn: () => unknown): number | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof FleetError) return e.code;
    throw e;
  }
}
