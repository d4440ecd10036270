// Discovery: agents flood signed beacons to fleet:discovery; relays re-wrap them (the
// agent's signed beacon travels intact in `original`, the hop count in the relay's own
// signed copy) and stop past 5 hops (304). The table keeps the newest beacon per agent,
// drops duplicates and stale ones, and answers "who offers capability X?".
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Capability } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { type DiscoveryBeacon, DiscoveryBeaconSchema } from "../../generated/proto/fleet/v1/discovery_pb.js";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { AgentRole } from "../../generated/proto/fleet/v1/registry_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock } from "../clock.js";
import { type Identity, type KeyResolver, signEnvelope } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { compareText, equalBytes } from "./bytes.js";
import { capabilityMatches, sortCapabilities, validateCapability } from "./capabilities.js";
import { controlEnvelope } from "./envelope.js";
import { openSelfCertified } from "./verify.js";
import { SUPPORTED_VERSIONS } from "./versions.js";

export const MAX_BEACON_HOPS = 5;
/** A beacon envelope lives a minute; agents re-announce well within it. */
export const BEACON_TTL_SECONDS = 60;
/** agentnet evicts after 40 s without a hello. */
export const DEFAULT_BEACON_STALE_MS = 40_000;

export interface BeaconInfo {
  capabilities?: Capability[];
  versions?: string[];
  endpoints?: string[];
  role?: AgentRole;
}

export interface DiscoveredAgent {
  agent: string;
  keyId: string;
  publicKey: Uint8Array;
  beacon: DiscoveryBeacon;
  /** The agent's own signed beacon, to relay or hand on unchanged. */
  signed: SignedEnvelope;
  /** Fewest hops it was heard over. */
  hops: number;
  issuedAt: number;
  receivedAt: number;
}

export type BeaconOutcome = { status: "new"; agent: DiscoveredAgent; relay?: SignedEnvelope } | { status: "duplicate" | "stale"; agent: string };

/** The agent's own beacon (hop 0), signed by it. */
export function createBeacon(identity: Identity, clock: Clock, info: BeaconInfo = {}): SignedEnvelope {
  const beacon = create(DiscoveryBeaconSchema, {
    agentId: identity.agent,
    keyId: identity.keyId,
    capabilities: sortCapabilities(info.capabilities ?? []),
    versions: info.versions ?? [...SUPPORTED_VERSIONS],
    issuedAt: timestampFromMs(clock.now()),
    hopCount: 0,
    endpoints: info.endpoints ?? [],
    role: info.role ?? 0,
    publicKey: identity.publicKey,
  });
  return signEnvelope(controlEnvelope({ sender: identity.agent, to: "discovery", type: MessageType.STATUS, body: { case: "discoveryBeacon", value: beacon }, clock, ttlSeconds: BEACON_TTL_SECONDS }), identity);
}

/** A relay's copy one hop further: its own signed envelope around the agent's beacon. */
export function relayBeacon(original: SignedEnvelope, originalBeacon: DiscoveryBeacon, hopCount: number, relay: Identity, clock: Clock): SignedEnvelope {
  if (hopCount > MAX_BEACON_HOPS) throw new FleetError(ErrorCode.DISCOVERY_HOP_LIMIT, `beacon would exceed ${MAX_BEACON_HOPS} hops`, { pointer: "/body/discoveryBeacon/hopCount" });
  const copy = create(DiscoveryBeaconSchema, { ...originalBeacon, hopCount, original });
  return signEnvelope(controlEnvelope({ sender: relay.agent, to: "discovery", type: MessageType.STATUS, body: { case: "discoveryBeacon", value: copy }, clock, ttlSeconds: BEACON_TTL_SECONDS }), relay);
}

function beaconOf(env: Envelope): DiscoveryBeacon {
  if (env.body?.kind.case !== "discoveryBeacon") throw new FleetError(ErrorCode.WIRE_MALFORMED, "not a discovery beacon", { pointer: "/body" });
  return env.body.kind.value;
}

export interface DiscoveryTableOptions {
  clock: Clock;
  /** Known keys: relays must be known; agents introduce themselves by their beacon's key. */
  keys: KeyResolver;
  /** When set, new beacons come back with a relayed copy to flood onwards. */
  relay?: Identity;
  staleAfterMs?: number;
  maxHops?: number;
}

export class DiscoveryTable {
  private readonly agents = new Map<string, DiscoveredAgent>();
  private readonly maxHops: number;
  private readonly staleAfterMs: number;

  constructor(private readonly opts: DiscoveryTableOptions) {
    this.maxHops = Math.min(opts.maxHops ?? MAX_BEACON_HOPS, MAX_BEACON_HOPS);
    this.staleAfterMs = opts.staleAfterMs ?? DEFAULT_BEACON_STALE_MS;
  }

  /**
   * Verifies a beacon (the agent's own, or a relay's copy) and records it when it is the
   * newest for its agent. Throws (and changes nothing) for unsigned or forged beacons (601/607),
   * malformed ones (7xx), a relayed copy past the hop limit (304).
   */
  receive(signed: SignedEnvelope): BeaconOutcome {
    const { clock, keys } = this.opts;
    const outer = openSelfCertified(signed, keys, (env) => (env.body?.kind.case === "discoveryBeacon" ? env.body.kind.value.publicKey : undefined), clock);
    const outerBeacon = beaconOf(outer);
    let original = signed;
    let env = outer;
    let beacon = outerBeacon;
    const hops = outerBeacon.hopCount;
    if (hops > this.maxHops) throw new FleetError(ErrorCode.DISCOVERY_HOP_LIMIT, `beacon crossed ${hops} hops (limit ${this.maxHops}); dropped`, { pointer: "/body/discoveryBeacon/hopCount" });
    if (hops > 0) {
      if (!outerBeacon.original) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "a relayed beacon must carry the original", { pointer: "/body/discoveryBeacon/original" });
      if (outer.sender === outerBeacon.agentId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "an agent cannot relay its own beacon", { pointer: "/sender" });
      original = outerBeacon.original;
      env = openSelfCertified(original, keys, (e) => (e.body?.kind.case === "discoveryBeacon" ? e.body.kind.value.publicKey : undefined));
      beacon = beaconOf(env);
      if (beacon.hopCount !== 0 || beacon.original) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "the original beacon must be hop 0", { pointer: "/body/discoveryBeacon/original" });
      if (beacon.agentId !== outerBeacon.agentId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "relayed copy names another agent than its original", { pointer: "/body/discoveryBeacon/agentId" });
    }
    this.check(env, beacon, signed === original ? "" : "/body/discoveryBeacon/original");
    const issuedAt = timestampMs(beacon.issuedAt!);
    const known = this.agents.get(beacon.agentId);
    if (known) {
      if (issuedAt < known.issuedAt) return { status: "stale", agent: beacon.agentId };
      if (issuedAt === known.issuedAt) {
        if (hops < known.hops) known.hops = hops;
        return { status: "duplicate", agent: beacon.agentId };
      }
      if (known.keyId !== beacon.keyId) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${beacon.agentId} was announced with ${known.keyId}`, { pointer: "/body/discoveryBeacon/keyId" });
    }
    const entry: DiscoveredAgent = { agent: beacon.agentId, keyId: beacon.keyId, publicKey: beacon.publicKey, beacon, signed: original, hops, issuedAt, receivedAt: clock.now() };
    this.agents.set(entry.agent, entry);
    const relay = this.opts.relay && hops + 1 <= this.maxHops && this.opts.relay.agent !== entry.agent ? relayBeacon(original, beacon, hops + 1, this.opts.relay, clock) : undefined;
    return { status: "new", agent: entry, relay };
  }

  private check(env: Envelope, beacon: DiscoveryBeacon, at: string): void {
    const p = `${at}/body/discoveryBeacon`;
    if (beacon.agentId !== env.sender) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "a beacon must be signed by the agent it describes", { pointer: `${p}/agentId` });
    if (beacon.keyId !== env.security?.keyId) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "beacon key_id differs from its signer", { pointer: `${p}/keyId` });
    if (!beacon.issuedAt) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "beacon without issued_at", { pointer: `${p}/issuedAt` });
    if (beacon.publicKey.length && !equalBytes(beacon.publicKey, this.opts.keys.resolve(beacon.keyId) ?? beacon.publicKey)) {
      throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "beacon public key differs from the known key", { pointer: `${p}/publicKey` });
    }
    beacon.capabilities.forEach((c, i) => validateCapability(c, `${p}/capabilities/${i}`));
  }

  get(agent: string): DiscoveredAgent | undefined {
    const e = this.agents.get(agent);
    return e && this.fresh(e) ? e : undefined;
  }

  /** Fresh agents, sorted by name. */
  list(): DiscoveredAgent[] {
    return [...this.agents.values()].filter((e) => this.fresh(e)).sort((a, b) => compareText(a.agent, b.agent));
  }

  /** Fresh agents offering the capability (an empty version on either side matches any). */
  findByCapability(want: Capability | string): DiscoveredAgent[] {
    const w = typeof want === "string" ? { name: want, version: "" } : want;
    return this.list().filter((e) => e.beacon.capabilities.some((c) => capabilityMatches(w as Capability, c)));
  }

  /** Forgets agents whose newest beacon is older than the stale limit; returns their names. */
  prune(): string[] {
    const gone = [...this.agents.values()].filter((e) => !this.fresh(e)).map((e) => e.agent);
    for (const a of gone) this.agents.delete(a);
    return gone;
  }

  private fresh(e: DiscoveredAgent): boolean {
    return this.opts.clock.now() - e.issuedAt < this.staleAfterMs;
  }
}

