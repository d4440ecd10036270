import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { HeartbeatParamsSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { type Heartbeat, HeartbeatSchema } from "../../generated/proto/fleet/v1/heartbeat_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { agreeHeartbeat, HeartbeatMonitor, HeartbeatSender, PeerState, type PeerTransition } from "../../runtime/protocol/heartbeat.js";

const hb = (n: number) => create(HeartbeatSchema, { sequence: BigInt(n) });

describe("heartbeat monitor", () => {
  it("walks ALIVE -> DEGRADED -> SUSPECT -> DEAD at 10/15/30 s with one event each, then tears down", () => {
    const clock = new FakeClock();
    const events: PeerTransition[] = [];
    let dead = 0;
    const m = new HeartbeatMonitor({ peer: "beta", clock, onTransition: (t) => events.push(t), onDead: () => dead++ });
    m.start();
    clock.advance(9_999);
    expect(m.state).toBe(PeerState.ALIVE);
    clock.advance(1);
    expect(m.state).toBe(PeerState.DEGRADED);
    clock.advance(4_999);
    expect(m.state).toBe(PeerState.DEGRADED);
    clock.advance(1);
    expect(m.state).toBe(PeerState.SUSPECT);
    clock.advance(15_000);
    expect(m.state).toBe(PeerState.DEAD);
    expect(events.map((e) => [e.to, e.error?.code])).toEqual([
      [PeerState.ALIVE, undefined],
      [PeerState.DEGRADED, ErrorCode.HEARTBEAT_DEGRADED],
      [PeerState.SUSPECT, ErrorCode.HEARTBEAT_MISSED],
      [PeerState.DEAD, ErrorCode.HEARTBEAT_DEAD],
    ]);
    expect(dead).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    expect(() => m.heard(hb(1))).toThrow(FleetError);
  });

  it("recovers to ALIVE on a heartbeat and rejects stale sequences without a state change", () => {
    const clock = new FakeClock();
    const events: PeerTransition[] = [];
    const m = new HeartbeatMonitor({ peer: "beta", clock, onTransition: (t) => events.push(t) });
    expect(() => m.heard(hb(1))).toThrow(expect.objectContaining({ code: ErrorCode.HANDSHAKE_REQUIRED }));
    m.start();
    clock.advance(12_000);
    m.heard(hb(1));
    expect(m.state).toBe(PeerState.ALIVE);
    clock.advance(11_000);
    expect(m.state).toBe(PeerState.DEGRADED);
    expect(() => m.heard(hb(1))).toThrow(expect.objectContaining({ code: ErrorCode.SECURITY_REPLAY }));
    expect(m.state).toBe(PeerState.DEGRADED);
    expect(events.map((e) => e.to)).toEqual([PeerState.ALIVE, PeerState.DEGRADED, PeerState.ALIVE, PeerState.DEGRADED]);
    m.stop();
  });

  it("uses configured thresholds", () => {
    const clock = new FakeClock();
    const m = new HeartbeatMonitor({ peer: "p", clock, params: create(HeartbeatParamsSchema, { degradedAfterMs: 100, suspectAfterMs: 200, deadAfterMs: 300 }) });
    m.start();
    clock.advance(300);
    expect(m.state).toBe(PeerState.DEAD);
  });

  it("caps the agreement: a peer proposing 2^32 - 1 ms cannot switch liveness off", () => {
    const huge = create(HeartbeatParamsSchema, { intervalMs: 0xffff_ffff, degradedAfterMs: 0xffff_ffff, suspectAfterMs: 0xffff_ffff, deadAfterMs: 0xffff_ffff });
    for (const [a, b] of [[huge, undefined], [undefined, huge], [huge, huge]] as const) {
      const agreed = agreeHeartbeat(a, b);
      expect([agreed.intervalMs, agreed.degradedAfterMs, agreed.suspectAfterMs, agreed.deadAfterMs]).toEqual([30_000, 60_000, 90_000, 120_000]);
    }
    // Below the caps the larger proposal still wins.
    expect(agreeHeartbeat(create(HeartbeatParamsSchema, { deadAfterMs: 100_000 }), undefined).deadAfterMs).toBe(100_000);
  });

  it("agrees on the larger interval and keeps sending on schedule", () => {
    expect(agreeHeartbeat(create(HeartbeatParamsSchema, { intervalMs: 2_000 }), create(HeartbeatParamsSchema, { intervalMs: 7_000 })).intervalMs).toBe(7_000);
    expect(agreeHeartbeat(undefined, undefined).deadAfterMs).toBe(30_000);
    const clock = new FakeClock();
    const sent: Heartbeat[] = [];
    const s = new HeartbeatSender({ clock, send: (h) => sent.push(h) });
    s.start();
    clock.advance(4_999);
    expect(sent).toEqual([]);
    clock.advance(20_001);
    expect(sent.map((h) => Number(h.sequence))).toEqual([1, 2, 3, 4, 5]);
    s.stop();
    clock.advance(60_000);
    expect(sent.length).toBe(5);
  });

  it("two peers over time: sender feeding a monitor keeps it ALIVE", () => {
    const clock = new FakeClock();
    const m = new HeartbeatMonitor({ peer: "alpha", clock });
    const s = new HeartbeatSender({ clock, send: (h) => m.heard(h) });
    m.start();
    s.start();
    clock.advance(120_000);
    expect(m.state).toBe(PeerState.ALIVE);
    s.stop();
    clock.advance(30_000);
    expect(m.state).toBe(PeerState.DEAD);
  });
});
