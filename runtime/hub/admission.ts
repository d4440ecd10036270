// Connection admission: every connection starts with the handshake (spec/handshake), run
// by a HandshakeResponder against the hub's pinned keys, with the admission policy (open,
// or a token this hub issued). Once established, what the handshake changes (a new
// agent's key pin, its registry entry) is written all or nothing (808 ends the connection),
// group-committed with every other admission of the same event-loop turn
// (admission-batch.ts); a known key with an unchanged entry writes nothing. Then the
// connection is bound to its agent and its backlog starts.
import { create } from "@bufbuild/protobuf";
import type { Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { encodePacket } from "../codec/index.js";
import { StaticKeys, type TokenUseStore, verifyToken } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { HandshakeResponder } from "../protocol/handshake.js";
import type { FrameConnection } from "../transport/listener.js";
import { startBacklog } from "./backlog.js";
import type { Hub } from "./hub.js";
import { HUB_CONNECT_SCOPE, hubAudience } from "./options.js";
import { Peer } from "./peer.js";
import { HandshakeKeys } from "./pins.js";

/** A new connection, handshaking. */
export function newPeer(hub: Hub, conn: FrameConnection): Peer {
  const keys = new HandshakeKeys(hub.pins);
  const responder = new HandshakeResponder({
    identity: hub.options.identity,
    keys,
    clock: hub.clock,
    maxFrameBytes: hub.options.maxFrameBytes,
    hub: true,
    tickets: hub.tickets,
    // The responder pins the name to its key at the Confirm (TOFU; 104 for another key
    // later); HandshakeKeys holds that pin for commitAdmission.
    admit: (hello, agent, keyId) => {
      // A name whose key was revoked is re-enrolled only out of band: with a token bound to the new key.
      if (hub.options.admission === "token" || hub.pins.wasRevoked(agent)) checkToken(hub, peer, hello.admissionToken, agent, keyId);
      // A granted capability is offered only with a valid grant bound to this key (603 in the HelloReject).
      const offered = hello.capabilities?.offered ?? [];
      offered.forEach((c, i) => hub.grants.checkOffer(c, { agent, keyId }, `/body/hello/capabilities/offered/${i}`));
      peer.offered = offered;
    },
  });
  const peer = new Peer(conn, responder, hub.clock.now(), keys);
  return peer;
}

/**
 * At the Hello a limited token is only checked (608 when already used up); its use is
 * recorded when the handshake completes (consumeTokenUse), so a Hello alone, a dropped
 * connection or the client's own Hello retry never burns a use.
 */
function deferredUses(hub: Hub, peer: Peer): TokenUseStore {
  return {
    consume(tokenId, maxUses, forgetAfterMs) {
      if (hub.store.tokenUsedUp(tokenId, maxUses)) return false;
      peer.tokenUse = { tokenId, maxUses, forgetAfterMs };
      return true;
    },
  };
}

/** The handshake completed: record the token's use now (608 if another connection used it up meanwhile). */
function consumeTokenUse(hub: Hub, peer: Peer): void {
  const use = peer.tokenUse;
  if (!use) return;
  peer.tokenUse = undefined;
  if (!hub.store.consume(use.tokenId, use.maxUses, use.forgetAfterMs)) {
    throw new FleetError(ErrorCode.SECURITY_TOKEN_USED, "admission token already used", { pointer: "/body/hello/admissionToken" });
  }
}

/** Admission: a token this hub issued, for this hub, for this agent's key (603/602/608/601 otherwise). */
function checkToken(hub: Hub, peer: Peer, text: string, agent: string, keyId: string): void {
  if (!text) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "this hub requires an admission token", { pointer: "/body/hello/admissionToken" });
  const id = hub.options.identity;
  verifyToken(text, {
    keys: new StaticKeys([{ agent: id.agent, publicKey: id.publicKey }]),
    audience: hubAudience(id),
    scope: HUB_CONNECT_SCOPE,
    subject: agent,
    holderKeyId: keyId,
    clock: hub.clock,
    uses: deferredUses(hub, peer),
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
  // The session's frame limit applies from the very next frame, even one that arrives while
  // the admission is still being written.
  peer.conn.setMaxFrameBytes?.(hub.options.maxFrameBytes);
  consumeTokenUse(hub, peer);
  const pin = peer.keys.pending;
  peer.keys.pending = undefined;
  const record = registryRecord(hub, peer);
  // An already pinned key with an unchanged entry writes nothing: admitted at once. Anything
  // to write joins this turn's admission batch (one transaction, one fsync, for all of them).
  if (!pin && !record) return openPeer(hub, peer);
  hub.admissions.enqueue({ peer, pin, record });
}

/** An admitted peer: bound to its agent, its backlog started, frames it sent meanwhile handled. */
export function openPeer(hub: Hub, peer: Peer): void {
  peer.state = "open";
  peer.conn.setMaxFrameBytes?.(hub.options.maxFrameBytes);
  hub.connections.bind(peer);
  hub.log(`online ${peer.agent} ${peer.keyId}`);
  peer.backlogUntil = Number.MAX_SAFE_INTEGER;
  hub.flush(); // anything still pending for this agent lands in the backlog
  startBacklog(hub, peer);
  // Bottles whose condition this arrival may satisfy: once per turn for all who arrived in it.
  hub.bottles.evaluateSoon();
}

/** The hub's registry entry for a connected agent (key and offer from the handshake); undefined when unchanged. */
export function registryRecord(hub: Hub, peer: Peer): Parameters<Hub["registry"]["putAgent"]>[0] | undefined {
  const prev = hub.registry.agent(peer.agent);
  const offered = peer.offered;
  const same = prev && prev.keyId === peer.keyId && JSON.stringify(prev.capabilities.map((c) => [c.name, c.version, c.grant])) === JSON.stringify(offered.map((c) => [c.name, c.version, c.grant]));
  if (same) return undefined;
  return { role: prev?.role, groups: prev?.groups, endpoints: prev?.endpoints, agentId: peer.agent, keyId: peer.keyId, publicKey: peer.publicKey, capabilities: offered, versions: prev?.versions.length ? prev.versions : ["3.0"] };
}
