// Idle state, pruned under one policy (README "Hub limits"):
// - rate-limit buckets are forgotten as soon as they have refilled (nothing changes for the sender);
// - with open admission, an identity that completed a handshake but never sent or was handed a
//   message, is offline, has nothing stored for it, and was admitted more than pruneIdleMs ago
//   (default one day) loses its pin, its registry entry and its activity row; its name may then
//   be claimed afresh. Identities admitted by token, and any that ever did something, are kept.
// Runs with maintenance, every min(60 s, pruneIdleMs), at most PRUNE_BATCH identities a run.
import { asFleetError, ErrorCode } from "../errors.js";
import type { Hub } from "./hub.js";

export const PRUNE_BATCH = 1_000;

/** Saves the activity of peers that did something (once per connection). */
export function saveActivity(hub: Hub): void {
  for (const p of hub.connections.peers) saveOne(hub, p);
}

export function saveOne(hub: Hub, p: { agent: string; active: boolean; activeSaved: boolean }): void {
  if (!p.active || p.activeSaved || !p.agent) return;
  p.activeSaved = true;
  try {
    hub.store.markActive(p.agent);
  } catch (e) {
    p.activeSaved = false;
    hub.log(`activity not saved: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "activity").message}`);
  }
}

export function pruneIdle(hub: Hub): number {
  hub.router.limiter.prune();
  saveActivity(hub);
  const now = hub.clock.now();
  const idle = hub.store.idleAgents(now - hub.options.pruneIdleMs, PRUNE_BATCH).filter((a) => !hub.isOnline(a));
  if (!idle.length) return 0;
  hub.store.transaction(() => {
    for (const agent of idle) hub.store.forgetAgent(agent, `agent/${agent}`);
  });
  for (const agent of idle) {
    hub.pins.unpin(agent);
    hub.registryStorage.forget(`agent/${agent}`);
  }
  hub.log(`pruned ${idle.length} idle identit${idle.length === 1 ? "y" : "ies"}`);
  return idle.length;
}
