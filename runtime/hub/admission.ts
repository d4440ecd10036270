// Connection admission: every connection starts with the handshake (spec/handshake), run
// by a HandshakeResponder against the hub's pinned keys, with the admission policy (open,
// or a token this hub issued). Once established, the connection is bound to its agent,
// the agent's registry entry is written, and its offline backlog starts.
import { create } from "@bufbuild/protobuf";
import type { Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { encodePacket } from "../codec/index.js";
import { StaticKeys, verifyToken } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { HandshakeResponder } from "../protocol/handshake.js";
import type { FrameConnection } from "../transport/listener.js";
import { startBacklog } from "./backlog.js";
import type { Hub } from "./hub.js";
import { HUB_CONNECT_SCOPE, hubAudience } from "./options.js";
import { Peer } from "./peer.js";

/** A new connection, handshaking. */
export function newPeer(hub: Hub, conn: FrameConnection): Peer {
  const responder = new HandshakeResponder({
    identity: hub.options.identity,
    keys: hub.pins,
    clock: hub.clock,
    maxFrameBytes: hub.options.maxFrameBytes,
    // The responder pins the name to its key at the Confirm (TOFU; 104 for another key later).
    admit: (hello, agent) => {
      if (hub.options.admission === "token") checkToken(hub, hello.admissionToken, agent);
      peer.offered = hello.capabilities?.offered ?? [];
    },
  });
  const peer = new Peer(conn, responder, hub.clock.now());
  return peer;
}

/** Admission: a token this hub issued, for this hub, for this agent (603/602/608/601 otherwise). */
function checkToken(hub: Hub, text: string, agent: string): void {
  if (!text) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "this hub requires an admission token", { pointer: "/body/hello/admissionToken" });
  const id = hub.options.identity;
  verifyToken(text, {
    keys: new StaticKeys([{ agent: id.agent, publicKey: id.publicKey }]),
    audience: hubAudience(id),
    scope: HUB_CONNECT_SCOPE,
    subject: agent,
    clock: hub.clock,
    uses: hub.store,
  });
}

/** One handshake message from a peer still handshaking. */
export function handshake(hub: Hub, peer: Peer, packet: Packet): void {
  if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, "complete the handshake first");
  const step = peer.responder.receive(packet.kind.value);
  if (step.send) peer.conn.send(encodePacket(create(PacketSchema, { kind: { case: "signed", value: step.send } })));
  if (step.error) {
    // A HelloReject already told the peer why; close after it.
    if (step.send) hub.release(peer);
    else hub.violation(peer, step.error);
    return;
  }
  if (!step.established) return;
  const est = step.established;
  peer.agent = est.peer;
  peer.keyId = est.peerKeyId;
  peer.publicKey = est.peerPublicKey;
  peer.session = est.session;
  peer.state = "open";
  hub.connections.bind(peer);
  hub.log(`online ${peer.agent} ${peer.keyId}`);
  register(hub, peer);
  peer.backlogUntil = Number.MAX_SAFE_INTEGER;
  hub.flush(); // anything still pending for this agent lands in the backlog
  startBacklog(hub, peer);
  hub.bottles.evaluate();
}

/** The hub's registry entry for a connected agent: key and offer from the handshake. */
function register(hub: Hub, peer: Peer): void {
  const prev = hub.registry.agent(peer.agent);
  const offered = peer.offered;
  const same = prev && prev.keyId === peer.keyId && JSON.stringify(prev.capabilities.map((c) => [c.name, c.version])) === JSON.stringify(offered.map((c) => [c.name, c.version]));
  if (same) return;
  try {
    hub.registry.putAgent({ role: prev?.role, groups: prev?.groups, endpoints: prev?.endpoints, agentId: peer.agent, keyId: peer.keyId, publicKey: peer.publicKey, capabilities: offered, versions: prev?.versions.length ? prev.versions : ["3.0"] });
  } catch (e) {
    hub.log(`registry write failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "registry").message}`);
  }
}
