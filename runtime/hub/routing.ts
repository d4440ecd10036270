// Routing one accepted message: requests to the hub itself are answered; everything else is
// checked (freshness, the sender's rate, duplicates, busy recipients), then delivered to
// online recipients and stored for offline ones, or, when it wants a receipt, committed
// first (group-commit.ts).
import { create } from "@bufbuild/protobuf";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { checkFreshness } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { deliver, reject } from "./delivery.js";
import { handleHubRequest } from "./hub-requests.js";
import type { Hub } from "./hub.js";
import type { Incoming } from "./peer.js";
import { TokenBuckets } from "./rate-limit.js";

export class Router {
  private readonly limiter: TokenBuckets;
  private readonly recent = new Map<string, number>();

  constructor(private readonly hub: Hub) {
    this.limiter = new TokenBuckets(hub.options.ratePerSecond, hub.options.rateBurst, hub.clock);
  }

  route(msg: Incoming): void {
    const hub = this.hub;
    const { peer, env } = msg;
    const to = env.recipient?.target;
    if (to?.case === "hub") {
      handleHubRequest(hub, msg);
      return;
    }
    try {
      checkFreshness(env, hub.clock.now(), hub.options.skewMs);
    } catch (e) {
      reject(hub, peer, env, asFleetError(e, ErrorCode.DELIVERY_EXPIRED, "freshness"));
      return;
    }
    const wait = this.limiter.take(peer.agent);
    if (wait > 0) {
      reject(hub, peer, env, new FleetError(ErrorCode.DELIVERY_RATE_LIMITED, `rate limit ${hub.options.ratePerSecond}/s exceeded`), wait);
      return;
    }
    if (!env.requiresAck && this.duplicate(env)) {
      reject(hub, peer, env, new FleetError(ErrorCode.DELIVERY_DUPLICATE, `duplicate message ${env.id}`));
      return;
    }
    const targets = this.targets(env);
    // Nobody to hold it for: say so rather than acknowledge a message that goes nowhere.
    if (!targets.length && to?.case === "capability") {
      reject(hub, peer, env, new FleetError(ErrorCode.DISCOVERY_CAPABILITY_NOT_FOUND, `no online agent offers ${to.value}`, { pointer: "/recipient/capability" }));
      return;
    }
    if (!targets.length && to?.case === "group") {
      reject(hub, peer, env, new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `group ${to.value} has no members`, { pointer: "/recipient/group" }));
      return;
    }
    const busy = targets.filter((t) => this.isBusy(t));
    if (to?.case === "agent" && busy.length) {
      reject(hub, peer, env, new FleetError(ErrorCode.DELIVERY_BUSY, `${to.value} is not keeping up; retry later`), 250);
      return;
    }
    const live = targets.filter((t) => hub.isOnline(t) && !busy.includes(t));
    const offline = targets.filter((t) => !hub.isOnline(t));
    hub.counters.routed++;
    if (env.requiresAck) {
      hub.commits.enqueue({ msg, store: targets, deliver: live, ack: true });
      return;
    }
    for (const t of live) deliver(hub.peer(t)!, msg.packet, msg.signed, env);
    if (offline.length) hub.commits.enqueue({ msg, store: offline, deliver: [], ack: false });
  }

  /** Agents a message goes to (never back to its sender). */
  private targets(env: Envelope): string[] {
    const hub = this.hub;
    const to = env.recipient!.target;
    const sender = env.sender;
    switch (to.case) {
      case "agent":
        return [to.value];
      case "broadcast":
      case "discovery":
        return hub.onlineAgents().filter((a) => a !== sender);
      case "group":
        return hub.registry.query(create(RegistryQuerySchema)).agents.filter((a) => a.groups.includes(to.value) && a.agentId !== sender).map((a) => a.agentId);
      case "capability":
        return hub.registry
          .query(create(RegistryQuerySchema, { capability: to.value, onlineOnly: true }), (a) => hub.isOnline(a))
          .agents.filter((a) => a.agentId !== sender)
          .map((a) => a.agentId);
      default:
        return [];
    }
  }

  /**
   * In-memory dedupe for messages without an ack (acked ones are deduped durably in the
   * store). Best effort and bounded: at capacity the oldest ids are forgotten, because a
   * hub that refused fire-and-forget traffic whenever the window is full would stall at
   * high rates, and recipients dedupe by id anyway.
   */
  private duplicate(env: Envelope): boolean {
    const { dedupeWindowMs, dedupeEntries } = this.hub.options;
    const key = `${env.sender}\u0000${env.id}`;
    const now = this.hub.clock.now();
    const at = this.recent.get(key);
    if (at !== undefined && now - at < dedupeWindowMs) return true;
    this.recent.set(key, now);
    if (this.recent.size > dedupeEntries) {
      let drop = Math.ceil(dedupeEntries / 10);
      for (const k of this.recent.keys()) {
        if (drop-- <= 0) break;
        this.recent.delete(k);
      }
    }
    return false;
  }

  /** Over its queue limit (marks when it started; at 4x the limit it is cut off at once). */
  private isBusy(agent: string): boolean {
    const hub = this.hub;
    const p = hub.peer(agent);
    if (!p) return false;
    const queued = p.conn.bufferedAmount;
    if (queued <= hub.options.maxQueueBytes) return false;
    if (!p.busySince) p.busySince = hub.clock.now();
    if (queued > 4 * hub.options.maxQueueBytes) hub.violation(p, new FleetError(ErrorCode.DELIVERY_BUSY, "slow consumer: send queue over its hard limit"));
    return true;
  }
}
