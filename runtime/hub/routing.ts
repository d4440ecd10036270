// Routing one message for other agents: checked (freshness, the sender's rate, duplicates,
// busy recipients), then delivered to online recipients and stored for offline ones, or,
// when it wants a receipt, committed first (group-commit.ts). Requests to the hub itself
// never get here (inbound.ts answers them).
import { create } from "@bufbuild/protobuf";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { checkFreshness } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { checkSend, maySend, type GroupState } from "../protocol/groups/index.js";
import { deliver, reject } from "./delivery.js";
import type { Hub } from "./hub.js";
import type { Peer, Routed } from "./peer.js";
import { overQueue } from "./queue-bound.js";
import { TokenBuckets } from "./rate-limit.js";
import type { RouteHead } from "./route-header.js";

const NOBODY: string[] = [];

/** The coded refusal checkSend gives (only called when maySend said no). */
function catchSend(state: GroupState, sender: string): unknown {
  try {
    checkSend(state, sender);
  } catch (e) {
    return e;
  }
  return new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${sender} may not send to ${state.group}`);
}

/** What was routed goes into the hub's history (history.ts), threads grouped on its head. */
function recordHistory(hub: Hub, msg: Routed, recipients: string[]): void {
  if (!hub.history.enabled) return;
  const h = msg.head;
  hub.history.record({ id: h.id, sender: h.sender, recipients, threadId: h.threadId, inReplyTo: h.inReplyTo, packet: msg.packet, signed: msg.signed, at: hub.clock.now() });
}

export class Router {
  readonly limiter: TokenBuckets;
  private readonly recent = new Map<string, number>();

  constructor(private readonly hub: Hub) {
    this.limiter = new TokenBuckets(hub.options.ratePerSecond, hub.options.rateBurst, hub.clock);
  }

  route(msg: Routed): void {
    const hub = this.hub;
    const { peer, head } = msg;
    peer.active = true;
    const to = head.target;
    // Decoders require a recipient; should one ever lack it, that is a protocol error, not an empty route.
    if (to.case === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "recipient is required", { pointer: "/recipient" });
    try {
      checkFreshness(head, hub.clock.now(), hub.options.skewMs);
    } catch (e) {
      reject(hub, peer, head, asFleetError(e, ErrorCode.DELIVERY_EXPIRED, "freshness"));
      return;
    }
    const wait = this.limiter.take(peer.agent);
    if (wait > 0) {
      reject(hub, peer, head, new FleetError(ErrorCode.DELIVERY_RATE_LIMITED, `rate limit ${hub.options.ratePerSecond}/s exceeded`), wait);
      return;
    }
    if (!head.requiresAck && this.duplicate(head)) {
      reject(hub, peer, head, new FleetError(ErrorCode.DELIVERY_DUPLICATE, `duplicate message ${head.id}`));
      return;
    }
    // Direct messages (nearly all traffic): one recipient, no arrays.
    if (to.case === "agent") {
      const target = to.value;
      const p = hub.peer(target);
      if (p && this.isBusy(p)) {
        reject(hub, peer, head, new FleetError(ErrorCode.DELIVERY_BUSY, `${target} is not keeping up; retry later`), 250);
        return;
      }
      hub.counters.routed++;
      recordHistory(hub, msg, [target]);
      if (head.requiresAck) hub.commits.enqueue({ msg, store: [target], deliver: p ? [target] : NOBODY, ack: true });
      else if (p) deliver(p, msg.packet, msg.signed, msg.env);
      else hub.commits.enqueue({ msg, store: [target], deliver: NOBODY, ack: false });
      return;
    }
    // A group with a chain: the policy decides who may send (603, nothing stored).
    if (to.case === "group") {
      const state = hub.groups.state(to.value);
      if (state && !maySend(state, head.sender)) {
        reject(hub, peer, head, asFleetError(catchSend(state, head.sender), ErrorCode.SECURITY_UNAUTHORIZED, "group policy"));
        return;
      }
    }
    const targets = this.targets(head);
    // Nobody to hold it for: say so rather than acknowledge a message that goes nowhere.
    if (!targets.length && to.case === "capability") {
      reject(hub, peer, head, new FleetError(ErrorCode.DISCOVERY_CAPABILITY_NOT_FOUND, `no online agent offers ${to.value}`, { pointer: "/recipient/capability" }));
      return;
    }
    if (!targets.length && to.case === "group") {
      reject(hub, peer, head, new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `group ${to.value} has no members`, { pointer: "/recipient/group" }));
      return;
    }
    const live: string[] = [];
    const offline: string[] = [];
    for (const t of targets) {
      const p = hub.peer(t);
      if (!p) offline.push(t);
      else if (!this.isBusy(p)) live.push(t);
      else if (!hub.isOnline(t)) offline.push(t); // cut off just now (hard limit): hold it
    }
    hub.counters.routed++;
    recordHistory(hub, msg, targets);
    if (head.requiresAck) {
      hub.commits.enqueue({ msg, store: targets, deliver: live, ack: true });
      return;
    }
    for (const t of live) deliver(hub.peer(t)!, msg.packet, msg.signed, msg.env);
    if (offline.length) hub.commits.enqueue({ msg, store: offline, deliver: NOBODY, ack: false });
  }

  /** Agents a group, capability or broadcast message goes to (never back to its sender). */
  private targets(head: RouteHead): string[] {
    const hub = this.hub;
    const to = head.target;
    const sender = head.sender;
    switch (to.case) {
      case "broadcast":
      case "discovery":
        return hub.onlineAgents().filter((a) => a !== sender);
      case "group": {
        // Current members by the chain when the group has one; otherwise announced membership.
        const state = hub.groups.state(to.value);
        if (state) return [...state.members.keys()].filter((a) => a !== sender);
        return hub.registry.query(create(RegistryQuerySchema)).agents.filter((a) => a.groups.includes(to.value) && a.agentId !== sender).map((a) => a.agentId);
      }
      case "capability":
        // A granted capability reaches only agents whose offer carries a valid grant (spec/capabilities.md).
        return hub.registry
          .query(create(RegistryQuerySchema, { capability: to.value, onlineOnly: true }), (a) => hub.isOnline(a))
          .agents.filter((a) => a.agentId !== sender && hub.grants.holds(to.value, a))
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
  private duplicate(head: RouteHead): boolean {
    const { dedupeWindowMs, dedupeEntries } = this.hub.options;
    const key = `${head.sender}\u0000${head.id}`;
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

  /** Over its queue limit (queue-bound.ts: marks when it started; at 4x the limit it is cut off at once). */
  private isBusy(p: Peer): boolean {
    return overQueue(this.hub, p);
  }
}
