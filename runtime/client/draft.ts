// What an application hands to FleetConnection.send: the fields it cares about, with the
// protocol's defaults filled in by buildEnvelope (id, timestamps, version, ttl, type).
import { create } from "@bufbuild/protobuf";
import { TimestampSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import { type Body, BodySchema, type Envelope, EnvelopeSchema, MessageType, Priority } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import type { Clock } from "../clock.js";
import { zeroFactory } from "../codec/factory.js";
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

// Every send builds one envelope: generated zero messages, then plain assignments (codec/factory.ts).
const newEnvelope = zeroFactory(EnvelopeSchema);
const newBody = zeroFactory(BodySchema);
const newApplication = zeroFactory(ApplicationPayloadSchema);
const newTimestamp = zeroFactory(TimestampSchema);
const utf8 = new TextEncoder();

// Text bodies are encoded into a shared slab and handed out as views: a fresh array per
// message costs more than the encoding. Each view covers only its own bytes.
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(0);
let slabAt = 0;

function utf8Bytes(text: string): Uint8Array {
  const most = text.length * 3;
  if (most > SLAB_BYTES / 4) return utf8.encode(text);
  if (slabAt + most > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabAt = 0;
  }
  const { written } = utf8.encodeInto(text, slab.subarray(slabAt));
  const view = slab.subarray(slabAt, slabAt + written);
  slabAt += written;
  return view;
}

function draftBody(d: EnvelopeDraft): Body {
  // A caller's body may be a partial init: create() completes it.
  if (d.body) return create(BodySchema, { kind: d.body });
  const app = newApplication();
  if (d.text !== undefined) {
    app.mediaType = "text/plain";
    app.content = { case: "data", value: utf8Bytes(d.text) };
  } else {
    app.mediaType = "application/json";
    app.content = { case: "json", value: JSON.stringify(d.json ?? null) };
  }
  const body = newBody();
  body.kind = { case: "application", value: app };
  return body;
}

/** timestampFromMs without create(). */
function timestamp(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  const t = newTimestamp();
  t.seconds = BigInt(seconds);
  t.nanos = (ms - seconds * 1000) * 1_000_000;
  return t;
}

export function buildEnvelope(d: EnvelopeDraft, sender: string, clock: Clock): Envelope {
  const env = newEnvelope();
  env.id = d.id ?? newMessageId();
  env.sender = sender;
  env.recipient = typeof d.to === "string" ? parseRecipient(d.to) : d.to;
  env.type = d.type ?? MessageType.EVENT;
  env.priority = d.priority ?? Priority.NORMAL;
  env.createdAt = timestamp(clock.now());
  env.ttlSeconds = d.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  env.inReplyTo = d.inReplyTo ?? "";
  env.correlationId = d.correlationId ?? "";
  env.threadId = d.threadId ?? "";
  env.requiresAck = d.requiresAck ?? false;
  if (d.capabilitiesNeeded) env.capabilitiesNeeded = [...d.capabilitiesNeeded];
  env.protocolVersion = PROTOCOL_VERSION;
  env.body = draftBody(d);
  return env;
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
