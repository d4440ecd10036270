// An agent's offline inbox, written out after its handshake: rows stored before it came
// online (up to the last seq at that moment), oldest first, paced by its send queue and
// resumed on drain. Rows without requires_ack go once written; acked ones on its receipt.
import { asFleetError, ErrorCode } from "../errors.js";
import { deliver } from "./delivery.js";
import type { Hub } from "./hub.js";
import type { Peer } from "./peer.js";

export function startBacklog(hub: Hub, peer: Peer): void {
  // Nothing stored for it (the quota's counts say so without a query): a storm of
  // reconnecting agents with empty inboxes costs no read per admission.
  if (!hub.quota.holds(peer.agent)) return;
  const rows = hub.store.pendingFor(peer.agent, hub.clock.now(), 0, 1);
  if (!rows.length) return;
  peer.backlogUntil = lastSeq(hub, peer.agent);
  peer.backlogCursor = 0;
  peer.draining = true;
  drainBacklog(hub, peer);
}

function lastSeq(hub: Hub, agent: string): number {
  let last = 0;
  for (;;) {
    const rows = hub.store.pendingFor(agent, 0, last, 1_000);
    if (!rows.length) return last;
    last = rows[rows.length - 1].seq;
  }
}

/** Writes backlog rows until the peer's queue fills; resumes on drain. */
export function drainBacklog(hub: Hub, peer: Peer): void {
  while (peer.draining && peer.state === "open" && peer.conn.bufferedAmount < hub.options.maxQueueBytes) {
    const rows = hub.store.pendingFor(peer.agent, hub.clock.now(), peer.backlogCursor, 256).filter((r) => r.seq <= peer.backlogUntil);
    if (!rows.length) {
      peer.draining = false;
      return;
    }
    for (const r of rows) {
      peer.backlogCursor = r.seq;
      try {
        deliver(peer, r.packet, r.packet[0] === 0x0a);
      } catch (e) {
        hub.log(`dropping undeliverable inbox row ${r.messageId}: ${asFleetError(e, ErrorCode.INTERNAL_ERROR, "inbox").message}`);
        hub.acknowledged(peer.agent, r.messageId);
        continue;
      }
      if (!r.needsAck) hub.acknowledged(peer.agent, r.messageId);
    }
  }
}
