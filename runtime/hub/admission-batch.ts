// Admissions by group commit: what established handshakes change (a new agent's pin, its
// registry entry) is queued and written in ONE transaction per event-loop turn, so a
// reconnect storm of N agents costs a handful of fsyncs instead of N. Until its write
// commits, a peer is "admitting"; a frame from it commits the batch at once (inbound.ts), so
// nothing it sends waits and nothing is held. A failed commit
// ends every connection of the batch with 808 and leaves no pin behind (the pin enters
// memory only after the commit). Two new agents claiming one name in the same turn: the
// first wins, the second gets 607, as if they had come one after the other.
import { keyIdFor } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError, isFleetError } from "../errors.js";
import { openPeer, type registryRecord } from "./admission.js";
import type { Hub } from "./hub.js";
import type { Peer } from "./peer.js";

export interface PendingAdmission {
  peer: Peer;
  pin?: { agent: string; publicKey: Uint8Array };
  record?: ReturnType<typeof registryRecord>;
}

export class AdmissionBatch {
  private pending: PendingAdmission[] = [];
  /** Names pinned by this batch, to their key id. */
  private claims = new Map<string, string>();
  private scheduled = false;

  constructor(private readonly hub: Hub) {}

  get size(): number {
    return this.pending.length;
  }

  enqueue(a: PendingAdmission): void {
    if (a.pin) {
      const keyId = keyIdFor(a.pin.publicKey);
      const claimed = this.claims.get(a.pin.agent);
      if (claimed !== undefined && claimed !== keyId) {
        this.hub.violation(a.peer, new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${a.pin.agent} is already pinned to ${claimed}`, { pointer: "/sender" }));
        return;
      }
      this.claims.set(a.pin.agent, keyId);
    }
    a.peer.state = "admitting";
    this.pending.push(a);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    // Peers that closed meanwhile are written too: their handshake completed, so their pin stands.
    const batch = this.pending;
    this.pending = [];
    this.claims = new Map();
    if (!batch.length) return;
    const hub = this.hub;
    try {
      hub.store.transaction(() => {
        for (const { peer, pin, record } of batch) {
          if (pin) {
            hub.store.putPin(pin.agent, pin.publicKey);
            // Open admission lets anyone create names: one that never does anything is pruned (prune.ts).
            if (hub.options.admission === "open") hub.store.admitted(pin.agent, hub.clock.now());
          }
          if (!record) continue;
          try {
            hub.registry.putAgent(record);
          } catch (e) {
            if (isFleetError(e, ErrorCode.DELIVERY_STORE_FAILED)) throw e;
            hub.log(`registry entry for ${peer.agent} refused: ${asFleetError(e, ErrorCode.INTERNAL_ERROR, "registry").message}`);
          }
        }
      });
    } catch (e) {
      const err = asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "admission");
      for (const { peer } of batch) if (peer.state === "admitting") hub.violation(peer, new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `could not admit ${peer.agent}: ${err.message}`, { cause: e }));
      return;
    }
    for (const { peer, pin } of batch) {
      if (pin) hub.pins.adopt(pin.agent, pin.publicKey);
      if (peer.state !== "admitting") continue; // closed meanwhile
      openPeer(hub, peer);
    }
  }
}
