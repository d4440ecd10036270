// The hub's open connections: every peer (handshaking or open) and the one bound connection
// per online agent, and the three ways a connection ends (gone, violation, release).
import { create } from "@bufbuild/protobuf";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { errorBody } from "../client/bodies.js";
import { buildEnvelope } from "../client/draft.js";
import { encodePacket } from "../codec/index.js";
import { redactText, signEnvelope } from "../crypto/index.js";
import { ErrorCode, errorCodeName, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";
import type { Peer } from "./peer.js";
import { saveOne } from "./prune.js";

export class Connections {
  readonly peers = new Set<Peer>();
  readonly online = new Map<string, Peer>();

  constructor(private readonly hub: Hub) {}

  /** Peers still handshaking (unauthenticated), capped by HubOptions.maxPendingConnections. */
  private readonly handshaking = new Set<Peer>();

  add(peer: Peer): void {
    this.peers.add(peer);
    if (peer.state === "handshake") this.handshaking.add(peer);
  }

  /** Connections still handshaking (unauthenticated). */
  get pending(): number {
    return this.handshaking.size;
  }

  /** Makes an established peer its agent's connection; an older one for the same agent is closed. */
  bind(peer: Peer): void {
    const previous = this.online.get(peer.agent);
    if (previous && previous !== peer) this.violation(previous, new FleetError(ErrorCode.UNKNOWN_ERROR, `superseded by a newer connection for ${peer.agent}`));
    this.online.set(peer.agent, peer);
    this.handshaking.delete(peer);
  }

  onlineAgents(): string[] {
    return [...this.online.keys()].sort();
  }

  /** The transport closed (either side). */
  gone(peer: Peer): void {
    peer.responder.cancel();
    if (peer.state === "closed") return;
    const wasOnline = peer.agent !== "" && this.online.get(peer.agent) === peer;
    this.drop(peer);
    if (wasOnline) this.hub.log(`offline ${peer.agent}`);
  }

  /** Sends a signed ERROR envelope as the last frame, then closes (spec/frame.md). */
  violation(peer: Peer, error: FleetError, messageId = ""): void {
    if (peer.state === "closed") return;
    const hub = this.hub;
    hub.counters.rejected++;
    hub.log(`close ${peer.label}: ${error.code} ${errorCodeName(error.code)} ${redactText(error.message)}`);
    let last: Uint8Array | undefined;
    try {
      const env = buildEnvelope(
        { to: peer.agent || "unknown", type: MessageType.ERROR, body: errorBody(error.code, redactText(error.message), { pointer: error.pointer, messageId }), ttlSeconds: 60 },
        hub.agent,
        hub.clock,
      );
      last = encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, hub.options.identity) } }));
    } catch {
      last = undefined;
    }
    this.drop(peer);
    peer.conn.close(last);
  }

  /** Ends a connection without an error (what it sent was handled): queued frames are flushed first. */
  release(peer: Peer): void {
    if (peer.state === "closed") return;
    this.drop(peer);
    peer.conn.close();
  }

  /** Marks a peer closed and forgets it (its agent goes offline if this was its connection). */
  drop(peer: Peer): void {
    saveOne(this.hub, peer);
    peer.state = "closed";
    this.peers.delete(peer);
    this.handshaking.delete(peer);
    if (peer.agent && this.online.get(peer.agent) === peer) this.online.delete(peer.agent);
  }
}
