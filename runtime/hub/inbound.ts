// Frames from a connection: the handshake first, then messages. Each message is bound to
// the connection's agent and key (603 otherwise) before it is routed. Session packets are
// opened (MAC, sequence); signed ones are verified when HubOptions.verify is "all" and
// otherwise left to the recipients, who always verify end to end. Any failure ends the
// connection with a signed ERROR frame.
import { create, toBinary } from "@bufbuild/protobuf";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type Packet, PacketSchema, type SessionEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodePacket, PayloadType } from "../codec/index.js";
import { openSignedEnvelope } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { handshake } from "./admission.js";
import type { Hub } from "./hub.js";
import { parseSigned } from "./parse-signed.js";
import type { Peer } from "./peer.js";
import { handleHubRequest } from "./hub-requests.js";
import { headOf, readRouteHead, readSignedPacket } from "./route-header.js";

export function receiveFrame(hub: Hub, peer: Peer, body: Uint8Array): void {
  if (peer.state === "closed") return;
  peer.lastSeen = hub.clock.now();
  // A message while admissions are pending writes the batch now: frames are never held (the
  // sender may be admitting itself), and every agent whose handshake completed before this
  // frame arrived is online for it (a broadcast right after a peer connects reaches that peer).
  if (peer.state !== "handshake" && hub.admissions.size) hub.admissions.flush();
  if ((peer.state as Peer["state"]) === "closed") return; // its admission could not be written (808)
  try {
    if (peer.state === "open" && hub.options.verify === "none" && fastForward(hub, peer, body)) return;
    const packet = decodePacket(body);
    if (peer.state === "handshake") handshake(hub, peer, packet);
    else message(hub, peer, packet, body);
  } catch (e) {
    hub.violation(peer, asFleetError(e, ErrorCode.INTERNAL_ERROR, "frame"));
  }
}

/**
 * Signed packets for other agents, with verify "none": route on the header fields read in
 * place and forward the bytes unchanged (recipients parse and verify everything). False
 * when the packet needs the full path (session packets, requests to the hub, JSON payloads).
 */
function fastForward(hub: Hub, peer: Peer, body: Uint8Array): boolean {
  const view = readSignedPacket(body);
  if (!view) return false;
  if (view.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.keyId}; signed by ${view.keyId || "nobody"}`, { pointer: "/signature/keyId" });
  if (view.sigLength !== 64) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "Ed25519 signature must be 64 bytes", { pointer: "/signature/sig" });
  const head = readRouteHead(view.payloadType, view.payload);
  if (!head || head.target.case === "hub") return false;
  if (head.sender !== peer.agent) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.agent}; message claims ${head.sender}`, { pointer: "/sender" });
  if (head.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "security.key_id is not the connection's key", { pointer: "/security/keyId" });
  hub.router.route({ peer, head, packet: body, signed: true });
  return true;
}

function message(hub: Hub, peer: Peer, packet: Packet, body: Uint8Array): void {
  if (packet.kind.case === "session") return sessionMessage(hub, peer, packet.kind.value);
  if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.WIRE_MALFORMED, "empty packet");
  const s = packet.kind.value;
  if (s.signature?.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.keyId}; signed by ${s.signature?.keyId ?? "nobody"}`, { pointer: "/signature/keyId" });
  const env = hub.options.verify === "all" ? openSignedEnvelope(s, { keys: hub.pins }) : parseSigned(s.payloadType, s.payload);
  boundToPeer(peer, env);
  if (env.security?.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "security.key_id is not the connection's key", { pointer: "/security/keyId" });
  admit(hub, peer, env, body, true);
}

/**
 * A session packet: one envelope, or a batch of them (spec/sessions.md). Each is held to the
 * connection like a single message; a batch with a bad envelope is refused whole (the
 * connection ends, as for any bad message) before any of it is routed.
 */
function sessionMessage(hub: Hub, peer: Peer, se: SessionEnvelope): void {
  const opened = peer.session!.openAll(se);
  if (opened.refused.length) throw opened.refused[0];
  for (const env of opened.envelopes) boundToPeer(peer, env);
  const payloadType = se.payloadType === PayloadType.envelopeBatchProto ? PayloadType.envelopeProto : se.payloadType;
  opened.envelopes.forEach((env, i) => {
    // Stored as an unsealed template: re-sealed for the recipient's own session on delivery.
    const forward = toBinary(PacketSchema, create(PacketSchema, { kind: { case: "session", value: { payloadType, payload: opened.payloads[i] } } }));
    admit(hub, peer, env, forward, false);
  });
}

function boundToPeer(peer: Peer, env: Envelope): void {
  if (env.sender !== peer.agent) {
    throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.agent}; message claims ${env.sender}`, { pointer: "/sender" });
  }
}

/** A message bound to its connection: to the hub's own handlers, or routed. */
function admit(hub: Hub, peer: Peer, env: Envelope, packet: Uint8Array, signed: boolean): void {
  if (env.recipient?.target.case === "hub") handleHubRequest(hub, { peer, env, packet, signed });
  else hub.router.route({ peer, head: headOf(env), env, packet, signed });
}
