// One connection to the hub: its transport, handshake state, and once established the
// authenticated agent it is bound to and the session that authenticates its frames.
import type { Capability } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { Session } from "../crypto/index.js";
import type { HandshakeResponder } from "../protocol/handshake.js";
import type { FrameConnection } from "../transport/listener.js";
import type { HandshakeKeys } from "./pins.js";
import type { RouteHead } from "./route-header.js";

export class Peer {
  /** "admitting": handshaken, its admission is being written (admission-batch.ts). */
  state: "handshake" | "admitting" | "open" | "closed" = "handshake";
  /** Bound at the handshake; every later message must name it as sender. */
  agent = "";
  keyId = "";
  publicKey: Uint8Array = new Uint8Array();
  session?: Session;
  /** Capabilities offered in its Hello (for its registry entry). */
  offered: Capability[] = [];
  lastSeen: number;
  readonly openedAt: number;
  /** When it first went over its queue limit (0 = not busy). */
  busySince = 0;
  /** Inbox rows with seq <= this are the backlog delivered after the handshake. */
  backlogUntil = 0;
  backlogCursor = 0;
  draining = false;
  /** It sent or was handed a message on this connection (idle-state pruning spares it); saved once. */
  active = false;
  activeSaved = false;
  /** A limited admission token its Hello presented: one use is consumed only when the handshake completes. */
  tokenUse?: { tokenId: string; maxUses: number; forgetAfterMs: number };

  /** keys: what the responder resolves keys with (and where it leaves the Confirm's pin). */
  constructor(readonly conn: FrameConnection, readonly responder: HandshakeResponder, now: number, readonly keys: HandshakeKeys) {
    this.lastSeen = now;
    this.openedAt = now;
  }

  get label(): string {
    return this.agent || this.conn.remote;
  }
}

/** A message accepted from a peer, with the bytes to forward. */
export interface Incoming {
  peer: Peer;
  env: Envelope;
  /** Packet bytes: the original signed Packet (forwarded unchanged), or an unsealed session template. */
  packet: Uint8Array;
  signed: boolean;
}

/** A message for other agents, on its way through the router. */
export interface Routed {
  peer: Peer;
  /** The fields routing needs (read in place on the fast path). */
  head: RouteHead;
  /** The whole envelope when it was decoded (session packets, JSON, verify "all"): session templates are sealed from it. */
  env?: Envelope;
  /** Packet bytes: the original signed Packet (forwarded unchanged), or an unsealed session template. */
  packet: Uint8Array;
  signed: boolean;
}
