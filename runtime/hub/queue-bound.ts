// The one bound on everything the hub queues to a connection, whatever it holds (routed
// messages, receipts, replies, registry answers, the backlog): over maxQueueBytes the peer is
// "busy" (marked; maintenance cuts it with 804 if it stays busy slowConsumerMs), over 4x it
// is cut at once with 804. Nothing the hub writes to a peer that does not read can grow
// past 4 x maxQueueBytes (32 MiB by default).
import { ErrorCode, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";
import type { Peer } from "./peer.js";

/** True when p's send queue is over the limit (marks when that started; cuts it at 4x). */
export function overQueue(hub: Hub, p: Peer): boolean {
  const queued = p.conn.bufferedAmount;
  if (queued <= hub.options.maxQueueBytes) return false;
  if (!p.busySince) p.busySince = hub.clock.now();
  if (queued > 4 * hub.options.maxQueueBytes) hub.violation(p, new FleetError(ErrorCode.DELIVERY_BUSY, "slow consumer: send queue over its hard limit"));
  return true;
}
