// Granted capabilities on NATS (spec/capabilities.md "On NATS"). There is no hub to check
// offers, so every agent given the fleet's capability policy checks them itself:
// - its registry replica refuses a record offering a granted capability without a grant valid
//   for the record's agent and key (the whole record, as the hub refuses a self-registration),
//   and answers no query with a record that fails that check now (an expired grant included);
// - registry answers from other replicas are checked the same way before they are returned;
// - it offers (and subscribes to fleet.v1.capability.<name> for) a granted capability only with
//   a grant valid for its own key, and refuses capability:<name> traffic once it no longer
//   holds one (expired, or its key rotated), dropping the subscription.
// nats-server permissions are what stops an agent that ignores the policy: grantHolders says
// who may subscribe to each granted capability's subject (`fleet nats auth --grant`).
import { create } from "@bufbuild/protobuf";
import type { Capability } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type AgentRecord, type RegistryQueryResult, RegistryQueryResultSchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { systemClock, type Clock } from "../clock.js";
import type { Identity, KeyResolver } from "../crypto/index.js";
import { keyIdFor } from "../crypto/keyid.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { capability as capabilityNamed } from "../protocol/capabilities.js";
import { CapabilityGrants, grantedCapability, offerWithGrants, type CapabilityPolicy } from "../protocol/capability-grants.js";

/** What this agent offers: its capabilities ("name" or "name@version") with each grant attached to the one it names. */
export function natsOffers(capabilities: readonly string[] = [], grants: readonly string[] = []): Capability[] {
  // Without grants, names are offered as given (what the binding always did).
  return grants.length ? offerWithGrants(capabilities, grants) : capabilities.map((name) => capabilityNamed(name));
}

export interface NatsGrantsHost {
  /** The keys pinned here: a record must name its agent's pinned key to hold a grant. */
  keys: Pick<KeyResolver, "keyIdOf">;
  clock: Clock;
}

/** One agent's view of the fleet's capability policy: checks records, answers and its own offers. */
export class NatsGrants {
  readonly verifier: CapabilityGrants;

  constructor(
    readonly policy: CapabilityPolicy,
    private readonly host: NatsGrantsHost,
  ) {
    this.verifier = new CapabilityGrants(policy, host.clock);
  }

  /**
   * Throws unless every granted capability `record` offers carries a grant valid now for the
   * record's agent and key (603, 602, 601, 607 as spec/capabilities.md), and, when it offers one,
   * the record names the key pinned here for its agent (607: a record naming another agent's key
   * cannot borrow that agent's grant). Open capabilities are not looked at.
   */
  readonly checkRecord = (record: AgentRecord, pointer = ""): void => {
    record.capabilities.forEach((c, i) => {
      if (!this.verifier.isGranted(c.name)) return;
      const pinned = this.host.keys.keyIdOf?.(record.agentId);
      if (pinned && pinned !== record.keyId) {
        throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${record.agentId}'s record names key ${record.keyId}, not its key ${pinned}: it holds no grant of ${c.name}`, { pointer: `${pointer}/keyId` });
      }
      this.verifier.checkOffer(c, { agent: record.agentId, keyId: record.keyId }, `${pointer}/capabilities/${i}`);
    });
  };

  /** Whether `record` passes checkRecord now. */
  passes(record: AgentRecord): boolean {
    try {
      this.checkRecord(record);
      return true;
    } catch {
      return false;
    }
  }

  /** A registry answer (from whichever replica served it) with the records that fail checkRecord left out. */
  filterAnswer(result: RegistryQueryResult): RegistryQueryResult {
    const agents = result.agents.filter((a) => this.passes(a));
    if (agents.length === result.agents.length) return result;
    const kept = new Set(agents.map((a) => a.agentId));
    return create(RegistryQueryResultSchema, { ...result, agents, health: result.health.filter((h) => kept.has(h.agentId)) });
  }

  /** Throws unless `identity` may offer `offer` now (an open capability always). */
  checkOwn(offer: Capability, identity: Pick<Identity, "agent" | "keyId">, pointer = ""): void {
    this.verifier.checkOffer(offer, { agent: identity.agent, keyId: identity.keyId }, pointer);
  }
}

export interface CapabilitySubscriptionsHost {
  /** The identity this agent signs with now (a rotation ends its grants: they name the old key). */
  readonly identity: Identity;
  subscribe(name: string): () => void;
}

/**
 * This agent's fleet.v1.capability.<name> subscriptions, one per offered name. With a policy,
 * a granted name is subscribed only with a grant valid for our key (connect fails otherwise,
 * as a hub refuses the Hello), and traffic for it is refused (and the subscription dropped)
 * once that grant stops counting.
 */
export class CapabilitySubscriptions {
  private readonly subs = new Map<string, () => void>();

  constructor(
    private readonly host: CapabilitySubscriptionsHost,
    readonly offers: readonly Capability[],
    private readonly grants?: NatsGrants,
  ) {}

  /** Checks every offer (throws the first refusal, subscribing nothing), then subscribes. */
  start(): void {
    this.offers.forEach((c, i) => this.grants?.checkOwn(c, this.host.identity, `/capabilities/${i}`));
    for (const c of this.offers) if (!this.subs.has(c.name)) this.subs.set(c.name, this.host.subscribe(c.name));
  }

  /**
   * Throws (603/602 ...) for capability:<name> traffic of a granted capability we hold no valid
   * grant for now, and unsubscribes from it. Other envelopes pass.
   */
  check(env: Envelope): void {
    const to = env.recipient?.target;
    if (to?.case !== "capability" || !this.grants?.verifier.isGranted(to.value)) return;
    let refusal: unknown;
    for (const c of this.offers) {
      if (c.name !== to.value) continue;
      try {
        this.grants.checkOwn(c, this.host.identity);
        return;
      } catch (e) {
        refusal = e;
      }
    }
    this.subs.get(to.value)?.();
    this.subs.delete(to.value);
    throw refusal instanceof FleetError ? new FleetError(refusal.code, `capability:${to.value} refused: ${refusal.message}`, { pointer: refusal.pointer }) : new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `capability:${to.value} is granted and not offered here`, { pointer: "/recipient" });
  }

  /** The names subscribed now. */
  subscribed(): string[] {
    return [...this.subs.keys()];
  }

  stop(): void {
    for (const stop of this.subs.values()) stop();
    this.subs.clear();
  }
}

/** Who holds which granted capability, for nats-server's permissions (authorization.ts). */
export interface GrantedSubscriptions {
  /** Every capability the policy grants: its subject is subscribed to by its holders only. */
  granted: readonly string[];
  /** Capability -> the agents holding a valid grant of it. */
  holders: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The holders of the policy's capabilities among `agents` (name and current key), from grants
 * (`fleet nats auth --grant`): a grant counts for the agent whose name and key it verifies for
 * now. Grants that verify for nobody known, or name a capability the policy does not grant,
 * are returned with their refusal (about the grant itself when there is one, e.g. 602 expired;
 * else 603 at /holderKeyId or /subject).
 */
export function grantHolders(
  policy: CapabilityPolicy,
  grants: readonly string[],
  agents: readonly { agent: string; publicKey: Uint8Array }[],
  clock: Clock = systemClock,
): GrantedSubscriptions & { refused: { grant: string; error: FleetError }[] } {
  const verifier = new CapabilityGrants(policy, clock);
  const holders = new Map<string, Set<string>>([...policy.keys()].map((c) => [c, new Set<string>()]));
  const refused: { grant: string; error: FleetError }[] = [];
  for (const grant of grants) {
    let name: string;
    try {
      name = grantedCapability(grant);
    } catch (e) {
      refused.push({ grant, error: asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "grant") });
      continue;
    }
    if (!verifier.isGranted(name)) {
      refused.push({ grant, error: new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${name} is not a granted capability of this policy: it needs no grant`, { pointer: "/audience" }) });
      continue;
    }
    let firstError: FleetError | undefined;
    let held = false;
    for (const a of agents) {
      const offer = capabilityNamed(name);
      offer.grant = grant;
      try {
        verifier.checkOffer(offer, { agent: a.agent, keyId: keyIdFor(a.publicKey) });
        holders.get(name)!.add(a.agent);
        held = true;
      } catch (e) {
        // An error about the grant itself (expired, forged ...) says more than "not this agent".
        const err = asFleetError(e, ErrorCode.SECURITY_UNAUTHORIZED, "grant");
        const notThisAgent = err.pointer === "/holderKeyId" || err.pointer === "/subject";
        if (!firstError || (!notThisAgent && (firstError.pointer === "/holderKeyId" || firstError.pointer === "/subject"))) firstError = err;
      }
    }
    if (!held) refused.push({ grant, error: firstError ?? new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `no known agent holds the key the ${name} grant names`, { pointer: "/holderKeyId" }) });
  }
  return { granted: [...policy.keys()].sort(), holders, refused };
}
