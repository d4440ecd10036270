// What an application hands to FleetConnection.send: the fields it cares about, with the
// protocol's defaults filled in by buildEnvelope (id, timestamps, version, ttl, type).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import { type Body, BodySchema, type Envelope, EnvelopeSchema, MessageType, Priority } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { Clock } from "../clock.js";
import { PROTOCOL_VERSION } from "../protocol/versions.js";
import { parseRecipient } from "./address.js";

export const DEFAULT_TTL_SECONDS = 300;

export interface EnvelopeDraft {
  /** Text form ("agent-beta", "group:ops", "capability:x", "fleet:broadcast", "fleet:hub") or a Recipient. */
  to: string | Recipient;
  /** Default EVENT (REQUEST for request()). */
  type?: MessageType;
  /** A typed body; or use json / text for application payloads. */
  body?: Body["kind"];
  /** Application JSON (any value; serialized once, carried verbatim). */
  json?: unknown;
  /** Application text (media type text/plain). */
  text?: string;
  id?: string;
  requiresAck?: boolean;
  ttlSeconds?: number;
  priority?: Priority;
  inReplyTo?: string;
  correlationId?: string;
  threadId?: string;
  capabilitiesNeeded?: string[];
  /** true (default): an end-to-end Ed25519 SignedEnvelope; false: authenticated by the session only. */
  sign?: boolean;
}

export function newMessageId(): string {
  return globalThis.crypto.randomUUID();
}

function draftBody(d: EnvelopeDraft): Body {
  if (d.body) return create(BodySchema, { kind: d.body });
  if (d.text !== undefined) return create(BodySchema, { kind: { case: "application", value: { mediaType: "text/plain", content: { case: "data", value: new TextEncoder().encode(d.text) } } } });
  return create(BodySchema, { kind: { case: "application", value: { mediaType: "application/json", content: { case: "json", value: JSON.stringify(d.json ?? null) } } } });
}

export function buildEnvelope(d: EnvelopeDraft, sender: string, clock: Clock): Envelope {
  return create(EnvelopeSchema, {
    id: d.id ?? newMessageId(),
    sender,
    recipient: typeof d.to === "string" ? parseRecipient(d.to) : d.to,
    type: d.type ?? MessageType.EVENT,
    priority: d.priority ?? Priority.NORMAL,
    createdAt: timestampFromMs(clock.now()),
    ttlSeconds: d.ttlSeconds ?? DEFAULT_TTL_SECONDS,
    inReplyTo: d.inReplyTo ?? "",
    correlationId: d.correlationId ?? "",
    threadId: d.threadId ?? "",
    requiresAck: d.requiresAck ?? false,
    capabilitiesNeeded: d.capabilitiesNeeded ?? [],
    protocolVersion: PROTOCOL_VERSION,
    body: draftBody(d),
  });
}

/** The application payload as a JS value: parsed JSON, text, or the raw bytes. */
export function applicationValue(env: Envelope): unknown {
  const kind = env.body?.kind;
  // A bottle's letter carries its payload one level down.
  const app = kind?.case === "application" ? kind.value : kind?.case === "bottleLetter" ? kind.value.payload : undefined;
  if (!app) return undefined;
  if (app.content.case === "json") {
    try {
      return JSON.parse(app.content.value);
    } catch {
      return app.content.value;
    }
  }
  if (app.content.case === "data") return app.mediaType.startsWith("text/") ? new TextDecoder().decode(app.content.value) : app.content.value;
  return undefined;
}
