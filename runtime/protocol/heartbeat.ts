// Liveness in both directions: a sender that emits a Heartbeat every interval, and a
// monitor that turns silence into ALIVE -> DEGRADED -> SUSPECT -> DEAD (one event per
// transition) and tears the session down at DEAD. Timers come from the injected Clock.
import { create } from "@bufbuild/protobuf";
import { type HeartbeatParams, HeartbeatParamsSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { type Heartbeat, HeartbeatSchema, PeerState } from "../../generated/proto/fleet/v1/heartbeat_pb.js";
import type { HealthStatus } from "../../generated/proto/fleet/v1/registry_pb.js";
import type { Clock, TimerId } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";

export { PeerState };

export const DEFAULT_HEARTBEAT = { intervalMs: 5_000, degradedAfterMs: 10_000, suspectAfterMs: 15_000, deadAfterMs: 30_000 } as const;

/** Fills zero fields with the defaults and checks the thresholds are ordered. */
export function resolveHeartbeat(p?: Partial<Omit<HeartbeatParams, "$typeName">>): HeartbeatParams {
  const r = create(HeartbeatParamsSchema, {
    intervalMs: p?.intervalMs || DEFAULT_HEARTBEAT.intervalMs,
    degradedAfterMs: p?.degradedAfterMs || DEFAULT_HEARTBEAT.degradedAfterMs,
    suspectAfterMs: p?.suspectAfterMs || DEFAULT_HEARTBEAT.suspectAfterMs,
    deadAfterMs: p?.deadAfterMs || DEFAULT_HEARTBEAT.deadAfterMs,
  });
  if (!(r.degradedAfterMs <= r.suspectAfterMs && r.suspectAfterMs <= r.deadAfterMs)) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "heartbeat thresholds must satisfy degraded <= suspect <= dead", { pointer: "/heartbeat" });
  }
  return r;
}

/**
 * The most any agreement can reach (spec/handshake.md): a peer may slow liveness down to
 * these, never switch it off. Ordered like the thresholds, so clamping keeps them ordered;
 * the interval stays below the hub's default idle timeout (60 s).
 */
export const MAX_HEARTBEAT = { intervalMs: 30_000, degradedAfterMs: 60_000, suspectAfterMs: 90_000, deadAfterMs: 120_000 } as const;

/** The handshake's agreement: the larger of each proposed value (either side's zero = default), at most MAX_HEARTBEAT. */
export function agreeHeartbeat(a?: HeartbeatParams, b?: HeartbeatParams): HeartbeatParams {
  const x = resolveHeartbeat(a);
  const y = resolveHeartbeat(b);
  const agree = (k: keyof typeof MAX_HEARTBEAT) => Math.min(Math.max(x[k], y[k]), MAX_HEARTBEAT[k]);
  return resolveHeartbeat({
    intervalMs: agree("intervalMs"),
    degradedAfterMs: agree("degradedAfterMs"),
    suspectAfterMs: agree("suspectAfterMs"),
    deadAfterMs: agree("deadAfterMs"),
  });
}

export interface PeerTransition {
  peer: string;
  from: PeerState;
  to: PeerState;
  /** Milliseconds since the last heartbeat (or since start). */
  silentMs: number;
  /** 202 on DEGRADED, 201 on SUSPECT (heartbeats missed), 203 on DEAD; undefined on recovery. */
  error?: FleetError;
}

export interface HeartbeatMonitorOptions {
  peer: string;
  clock: Clock;
  params?: HeartbeatParams;
  onTransition?: (t: PeerTransition) => void;
  /** Called once when the peer turns DEAD: tear the session down here. */
  onDead?: (t: PeerTransition) => void;
}

export class HeartbeatMonitor {
  readonly peer: string;
  private readonly params: HeartbeatParams;
  private current = PeerState.UNSPECIFIED;
  private lastHeard = 0;
  private lastSequence = 0n;
  private timer: TimerId | undefined;

  constructor(private readonly opts: HeartbeatMonitorOptions) {
    this.peer = opts.peer;
    this.params = resolveHeartbeat(opts.params);
  }

  get state(): PeerState {
    return this.current;
  }

  get lastSequenceSeen(): bigint {
    return this.lastSequence;
  }

  /** The session is up: the peer counts as just heard from. */
  start(): void {
    if (this.current !== PeerState.UNSPECIFIED) return;
    this.lastHeard = this.opts.clock.now();
    this.move(PeerState.ALIVE);
    this.schedule();
  }

  /**
   * A heartbeat (or any authenticated traffic, with no heartbeat) arrived. A heartbeat whose
   * sequence does not increase is a replay (604) and changes nothing; so does one after DEAD.
   */
  heard(hb?: Heartbeat): void {
    if (this.current === PeerState.DEAD) throw new FleetError(ErrorCode.HEARTBEAT_DEAD, `${this.peer} is dead; its session is gone`);
    if (this.current === PeerState.UNSPECIFIED) throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, "heartbeat before the session started");
    if (hb) {
      if (hb.sequence <= this.lastSequence) throw new FleetError(ErrorCode.SECURITY_REPLAY, `heartbeat sequence ${hb.sequence} not after ${this.lastSequence}`);
      this.lastSequence = hb.sequence;
    }
    this.lastHeard = this.opts.clock.now();
    this.move(PeerState.ALIVE);
    this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private silence(): number {
    return this.opts.clock.now() - this.lastHeard;
  }

  /** One timer at the next threshold still ahead; it re-arms itself. */
  private schedule(): void {
    this.stop();
    const silent = this.silence();
    const next = [this.params.degradedAfterMs, this.params.suspectAfterMs, this.params.deadAfterMs].find((t) => t > silent);
    this.evaluate();
    if (next === undefined || this.current === PeerState.DEAD) return;
    this.timer = this.opts.clock.setTimer(() => {
      this.timer = undefined;
      this.schedule();
    }, next - silent);
  }

  private evaluate(): void {
    const s = this.silence();
    const p = this.params;
    const to = s >= p.deadAfterMs ? PeerState.DEAD : s >= p.suspectAfterMs ? PeerState.SUSPECT : s >= p.degradedAfterMs ? PeerState.DEGRADED : PeerState.ALIVE;
    this.move(to);
  }

  private move(to: PeerState): void {
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    const silentMs = this.silence();
    const error =
      to === PeerState.DEGRADED
        ? new FleetError(ErrorCode.HEARTBEAT_DEGRADED, `${this.peer} silent for ${silentMs} ms`)
        : to === PeerState.SUSPECT
          ? new FleetError(ErrorCode.HEARTBEAT_MISSED, `${this.peer} missed heartbeats for ${silentMs} ms`)
          : to === PeerState.DEAD
            ? new FleetError(ErrorCode.HEARTBEAT_DEAD, `${this.peer} silent for ${silentMs} ms: dead`)
            : undefined;
    const t: PeerTransition = { peer: this.peer, from, to, silentMs, error };
    this.opts.onTransition?.(t);
    if (to === PeerState.DEAD) {
      this.stop();
      this.opts.onDead?.(t);
    }
  }
}

export interface HeartbeatSenderOptions {
  clock: Clock;
  intervalMs?: number;
  send: (hb: Heartbeat) => void;
  /** Load and health hints carried in each heartbeat. */
  status?: () => { queueDepth?: number; health?: HealthStatus };
}

/** Emits a heartbeat every interval with an increasing sequence, starting one interval after start(). */
export class HeartbeatSender {
  private sequence = 0n;
  private timer: TimerId | undefined;
  private readonly intervalMs: number;

  constructor(private readonly opts: HeartbeatSenderOptions) {
    this.intervalMs = opts.intervalMs || DEFAULT_HEARTBEAT.intervalMs;
  }

  start(): void {
    if (this.timer === undefined) this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  get sent(): bigint {
    return this.sequence;
  }

  private arm(): void {
    this.timer = this.opts.clock.setTimer(() => {
      this.arm();
      const s = this.opts.status?.() ?? {};
      this.opts.send(create(HeartbeatSchema, { sequence: ++this.sequence, queueDepth: s.queueDepth ?? 0, health: s.health ?? 0 }));
    }, this.intervalMs);
  }
}
