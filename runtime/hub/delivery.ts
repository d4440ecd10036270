// What the hub writes to a connected peer: forwarded packets (signed ones unchanged, session
// templates sealed for the recipient's own session), its own replies, receipts and refusals.
import { create, fromBinary } from "@bufbuild/protobuf";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { errorBody, receiptBody } from "../client/bodies.js";
import { buildEnvelope, type EnvelopeDraft } from "../client/draft.js";
import { encodePacket } from "../codec/index.js";
import { redactText } from "../crypto/index.js";
import type { ErrorCode, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";
import { parseSigned } from "./parse-signed.js";
import type { Peer } from "./peer.js";
import { overQueue } from "./queue-bound.js";

/** The fields of a message the hub answers about (an Envelope, or a route header read in place). */
export type Answerable = Pick<Envelope, "id" | "requiresAck" | "correlationId">;

/** Writes a packet to a peer: signed packets unchanged, session templates sealed for it. */
export function deliver(peer: Peer, packet: Uint8Array, signed: boolean, env?: Envelope): void {
  if (peer.state !== "open") return;
  peer.active = true;
  if (signed) {
    peer.conn.send(packet);
    return;
  }
  let e = env;
  if (!e) {
    // The hub's own stored template (an offline inbox row): it has no session id until it is
    // sealed for this peer, so it is read as is, not validated as wire input.
    const p = fromBinary(PacketSchema, packet);
    if (p.kind.case !== "session") return;
    e = parseSigned(p.kind.value.payloadType, p.kind.value.payload);
  }
  peer.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: peer.session!.seal(e) } })));
}

/**
 * A hub-originated message to a connected peer, authenticated by its session. Replies,
 * receipts and registry answers count against the same queue bound as routed messages
 * (queue-bound.ts): a peer that never reads is told 804 and cut, never buffered without end.
 */
export function reply(hub: Hub, peer: Peer, draft: Omit<EnvelopeDraft, "to">): void {
  if (peer.state !== "open") return;
  const env = buildEnvelope({ ...draft, to: peer.agent }, hub.agent, hub.clock);
  peer.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: peer.session!.seal(env) } })));
  overQueue(hub, peer);
}

export function receipt(hub: Hub, peer: Peer, msg: Answerable, status: ReceiptStatus, code: ErrorCode | 0 = 0, detail = "", retryAfterMs = 0): void {
  reply(hub, peer, { type: MessageType.RESPONSE, inReplyTo: msg.id, correlationId: msg.correlationId, body: receiptBody(msg.id, status, code, detail, retryAfterMs) });
}

/** Refuses one message without closing: a REJECTED receipt when it wanted one, else an ERROR envelope. */
export function reject(hub: Hub, peer: Peer, msg: Answerable, error: FleetError, retryAfterMs = 0): void {
  hub.counters.rejected++;
  if (msg.requiresAck) receipt(hub, peer, msg, ReceiptStatus.REJECTED, error.code, redactText(error.message), retryAfterMs);
  else reply(hub, peer, { type: MessageType.ERROR, inReplyTo: msg.id, body: errorBody(error.code, redactText(error.message), { pointer: error.pointer, messageId: msg.id }) });
}
