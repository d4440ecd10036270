// Once a second: handshake and idle timeouts, slow consumers whose queue stayed full, an
// expiry sweep of the store (every minute), and time-based bottle conditions.
import type { TimerId } from "../clock.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";
import { pruneIdle } from "./prune.js";

export class Maintenance {
  private timer: TimerId | undefined;
  private lastSweep = 0;
  private lastPrune = 0;

  constructor(private readonly hub: Hub) {}

  start(): void {
    this.timer = this.hub.clock.setTimer(() => {
      this.run();
      this.start();
    }, 1_000);
  }

  stop(): void {
    if (this.timer !== undefined) this.hub.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  run(): void {
    const hub = this.hub;
    const { options } = hub;
    const now = hub.clock.now();
    for (const p of [...hub.connections.peers]) {
      if (p.state === "handshake" && now - p.openedAt > options.handshakeTimeoutMs) {
        hub.violation(p, new FleetError(ErrorCode.HANDSHAKE_TIMEOUT, "handshake not completed in time"));
      } else if (now - p.lastSeen > options.idleTimeoutMs) {
        hub.violation(p, new FleetError(ErrorCode.DELIVERY_IDLE_TIMEOUT, `idle for ${Math.round((now - p.lastSeen) / 1000)} s`));
      } else if (p.busySince) {
        if (p.conn.bufferedAmount <= options.maxQueueBytes) p.busySince = 0;
        else if (now - p.busySince > options.slowConsumerMs) hub.violation(p, new FleetError(ErrorCode.DELIVERY_BUSY, "slow consumer: queue stayed full"));
      }
    }
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      try {
        hub.store.sweep(now, now - options.dedupeWindowMs);
        hub.quota.recount();
        hub.history.sweep();
      } catch (e) {
        hub.log(`sweep failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "sweep").message}`);
      }
    }
    if (now - this.lastPrune >= Math.min(60_000, options.pruneIdleMs)) {
      this.lastPrune = now;
      try {
        pruneIdle(hub);
      } catch (e) {
        hub.log(`prune failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "prune").message}`);
      }
    }
    hub.bottles.evaluate();
  }
}
