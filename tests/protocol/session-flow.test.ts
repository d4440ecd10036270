// End to end over the in-memory transport: handshake, then heartbeats both ways inside the
// session, then one direction goes silent and the other side tears the session down at DEAD.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { decodePacket, encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, PinnedKeys } from "../../runtime/crypto/index.js";
import type { EstablishedSession } from "../../runtime/protocol/handshake.js";
import { HandshakeInitiator, HandshakeResponder } from "../../runtime/protocol/handshake.js";
import { controlEnvelope } from "../../runtime/protocol/envelope.js";
import { HeartbeatMonitor, HeartbeatSender, PeerState, type PeerTransition } from "../../runtime/protocol/heartbeat.js";
import type { FrameConnection } from "../../runtime/transport/listener.js";
import { memoryPair } from "../../runtime/transport/memory.js";

/** One side: handshake machine first, then session traffic with a heartbeat sender and monitor. */
function side(name: string, conn: FrameConnection, clock: FakeClock, role: "initiator" | "responder", events: PeerTransition[]) {
  const identity = generateIdentity(name);
  const keys = new PinnedKeys();
  const machine = role === "initiator" ? new HandshakeInitiator({ identity, keys, clock }) : new HandshakeResponder({ identity, keys, clock, hub: true });
  const state = { established: undefined as EstablishedSession | undefined, monitor: undefined as HeartbeatMonitor | undefined, sender: undefined as HeartbeatSender | undefined, tornDown: false };
  const begin = (est: EstablishedSession) => {
    state.established = est;
    state.monitor = new HeartbeatMonitor({ peer: est.peer, clock, params: est.heartbeat, onTransition: (t) => events.push(t), onDead: () => {
      state.tornDown = true;
      state.sender?.stop();
      conn.close();
    } });
    state.sender = new HeartbeatSender({ clock, intervalMs: est.heartbeat.intervalMs, send: (hb) => {
      const env = controlEnvelope({ sender: name, to: { agent: est.peer }, type: MessageType.STATUS, body: { case: "heartbeat", value: hb }, clock });
      conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: est.session.seal(env) } })));
    } });
    state.monitor.start();
    state.sender.start();
  };
  conn.onFrame((bytes) => {
    const packet = decodePacket(bytes);
    if (packet.kind.case === "signed") {
      const step = machine.receive(packet.kind.value);
      if (step.send) conn.send(encodePacket(create(PacketSchema, { kind: { case: "signed", value: step.send } })));
      if (step.established) begin(step.established);
    } else if (packet.kind.case === "session" && state.established) {
      const env = state.established.session.open(packet.kind.value);
      if (env.body?.kind.case === "heartbeat") state.monitor!.heard(env.body.kind.value);
    }
  });
  conn.onClose(() => {
    state.sender?.stop();
    state.monitor?.stop();
  });
  return { machine, state };
}

describe("session flow over the memory transport", () => {
  it("handshakes, keeps both sides ALIVE with sealed heartbeats, and tears down at DEAD when one direction goes silent", () => {
    const clock = new FakeClock();
    let silenceAgent = false;
    const [a, b, link] = memoryPair({ auto: false, drop: (_body, from) => from === "a" && silenceAgent });
    const hubEvents: PeerTransition[] = [];
    const agent = side("agent-alpha", a, clock, "initiator", []);
    const hub = side("fleet-hub", b, clock, "responder", hubEvents);
    a.send(encodePacket(create(PacketSchema, { kind: { case: "signed", value: (agent.machine as HandshakeInitiator).start() } })));
    link.flush();
    expect(agent.state.established?.sessionId).toBe(hub.state.established?.sessionId);
    const tick = (ms: number) => {
      for (let t = 0; t < ms; t += 1_000) {
        clock.advance(1_000);
        link.flush();
      }
    };
    tick(60_000);
    expect(hub.state.monitor!.state).toBe(PeerState.ALIVE);
    expect(agent.state.monitor!.state).toBe(PeerState.ALIVE);
    expect(hub.state.monitor!.lastSequenceSeen).toBe(12n);
    silenceAgent = true; // the agent's heartbeats stop arriving
    tick(31_000);
    expect(hubEvents.map((e) => PeerState[e.to])).toEqual(["ALIVE", "DEGRADED", "SUSPECT", "DEAD"]);
    expect(hub.state.tornDown).toBe(true);
    expect(clock.pendingTimers).toBe(0); // both sides stopped everything on close
  });
});
