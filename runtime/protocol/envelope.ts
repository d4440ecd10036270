// Builds the envelopes the state machines emit (handshake steps, beacons, receipts):
// fresh id, created_at from the injected clock, the protocol version, a short ttl.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import { RecipientSchema } from "../../generated/proto/fleet/v1/address_pb.js";
import { BodySchema, type Envelope, EnvelopeSchema, MessageType, Priority } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { Clock } from "../clock.js";
import { PROTOCOL_VERSION } from "./versions.js";

/** Coordination messages are short-lived: the original handshake window. */
export const CONTROL_TTL_SECONDS = 60;

export interface ControlEnvelope {
  sender: string;
  to: Recipient | { agent: string } | "hub" | "discovery";
  type: MessageType;
  body: MessageInitShape<typeof BodySchema>["kind"];
  clock: Clock;
  ttlSeconds?: number;
  inReplyTo?: string;
  correlationId?: string;
  id?: string;
  requiresAck?: boolean;
}

function recipientOf(to: ControlEnvelope["to"]): Recipient {
  if (to === "hub") return create(RecipientSchema, { target: { case: "hub", value: true } });
  if (to === "discovery") return create(RecipientSchema, { target: { case: "discovery", value: true } });
  if ("$typeName" in to) return to;
  return create(RecipientSchema, { target: { case: "agent", value: to.agent } });
}

export function controlEnvelope(c: ControlEnvelope): Envelope {
  return create(EnvelopeSchema, {
    id: c.id ?? globalThis.crypto.randomUUID(),
    sender: c.sender,
    recipient: recipientOf(c.to),
    type: c.type,
    priority: Priority.HIGH,
    createdAt: timestampFromMs(c.clock.now()),
    ttlSeconds: c.ttlSeconds ?? CONTROL_TTL_SECONDS,
    inReplyTo: c.inReplyTo ?? "",
    correlationId: c.correlationId ?? "",
    requiresAck: c.requiresAck ?? false,
    protocolVersion: PROTOCOL_VERSION,
    body: create(BodySchema, { kind: c.body }),
  });
}

/** created_at + ttl in Unix ms (0 when created_at is missing). */
export function expiresAtMs(env: Envelope): number {
  return env.createdAt ? timestampMs(env.createdAt) + env.ttlSeconds * 1000 : 0;
}
