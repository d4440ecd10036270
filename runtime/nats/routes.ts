// Where an envelope goes on NATS, and whether one that arrived on a subject was addressed to
// it. The subjects are the AsyncAPI document's channels (subjects.ts).
import { create } from "@bufbuild/protobuf";
import type { Recipient } from "../../generated/proto/fleet/v1/address_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, type Packet, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { recipientText } from "../client/address.js";
import { ErrorCode, FleetError } from "../errors.js";
import { subjects, type parseSubject } from "./subjects.js";

export type ParsedSubject = NonNullable<ReturnType<typeof parseSubject>>;

export function packetOf(signed: SignedEnvelope): Packet {
  return create(PacketSchema, { kind: { case: "signed", value: signed } });
}

export function describe(r: Recipient | undefined): string {
  return recipientText(r) || "nobody";
}

/** Where an envelope goes on NATS. "fleet:hub" has no hub here: its bodies go to their shared channels. */
export function routeOf(env: Envelope): { subject: string; durable: boolean } {
  const r = env.recipient?.target;
  switch (r?.case) {
    case "agent":
      return { subject: subjects.agentInbox(r.value), durable: true };
    case "group":
      return { subject: subjects.group(r.value), durable: false };
    case "capability":
      return { subject: subjects.capability(r.value), durable: false };
    case "broadcast":
      return { subject: subjects.broadcast(), durable: false };
    case "discovery":
      return { subject: subjects.discovery(), durable: false };
    case "hub":
      switch (env.body?.kind.case) {
        case "heartbeat":
          return { subject: subjects.presence(env.sender), durable: false };
        case "registryDigest":
        case "registrySnapshot":
        case "registryDelta":
          return { subject: subjects.registrySync(), durable: false };
        case "registryQuery":
          return { subject: subjects.registryQuery(), durable: false };
        case "discoveryBeacon":
          return { subject: subjects.discovery(), durable: false };
        case "keyRevocation":
        case "keyRotation":
          // Stored (FLEET_KEYS) so that agents offline now learn it when they connect (rotation.ts).
          return { subject: subjects.keys(env.sender), durable: true };
        default:
          break;
      }
  }
  throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `no NATS channel for recipient ${describe(env.recipient)}`, { pointer: "/recipient" });
}

/** True when an envelope that arrived on a channel was really addressed to it (no re-publishing to other inboxes). */
export function addressedHere(r: Recipient | undefined, at: ParsedSubject, self: string): boolean {
  const t = r?.target;
  switch (at.channel) {
    case "agentInbox":
      return t?.case === "agent" && t.value === self && at.param === self;
    case "agentReceipts":
      return t?.case === "agent" && t.value === self && at.param === self;
    case "broadcast":
      return t?.case === "broadcast";
    case "group":
      return t?.case === "group" && t.value === at.param;
    case "capability":
      return t?.case === "capability" && t.value === at.param;
    case "discovery":
      return t?.case === "discovery" || t?.case === "hub";
    case "bottles":
      // The carrier of a bottle names no agent; collectBottle checks the letter's recipient.
      return t?.case === "hub" && at.param === self;
    default:
      return t?.case === "hub";
  }
}
