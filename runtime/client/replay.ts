// The receive-side replay rules of an agent's hub connection (spec/signing.md, "ttl" window:
// what a hub delivers may have waited in its offline inbox, so only a created_at in the
// future beyond the skew is refused, and ids are remembered until the message expires).
// By default one guard per Identity object, in memory, so a reconnect (a new HubConnection
// for the same identity) keeps it; pass a ReplayStore (runtime/node/replay-store.ts) to keep
// it across process restarts too. Browser-safe.
import type { Clock } from "../clock.js";
import { type Identity, ReplayGuard, type ReplayStore } from "../crypto/index.js";

/** Ids an agent's connection remembers at once by default; full means 804 (never "deliver anyway"). */
export const CLIENT_REPLAY_ENTRIES = 500_000;

const shared = new WeakMap<Identity, ReplayGuard>();

/** A replay guard for an agent's incoming traffic: durable when store is given, else shared per identity in this process. */
export function replayGuardFor(identity: Identity, clock: Clock, store?: ReplayStore): ReplayGuard {
  if (store) return new ReplayGuard({ clock, window: "ttl", maxEntries: CLIENT_REPLAY_ENTRIES, store });
  let guard = shared.get(identity);
  if (!guard) {
    guard = new ReplayGuard({ clock, window: "ttl", maxEntries: CLIENT_REPLAY_ENTRIES });
    shared.set(identity, guard);
  }
  return guard;
}
