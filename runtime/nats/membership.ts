// Fleet membership without a hub: each agent keeps a registry replica (its own AgentRecord
// with key, capabilities and groups), syncs it over fleet.v1.registry.sync, heartbeats on
// fleet.v1.presence.{agent}, and derives "online" from the heartbeats it hears. It answers
// registry queries only once settled (it has heard another replica, or has been up for two
// digest periods), so a just-started agent never answers with a registry that lacks the fleet.
import { create } from "@bufbuild/protobuf";
import { type Capability, CapabilitySchema } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { HeartbeatSchema } from "../../generated/proto/fleet/v1/heartbeat_pb.js";
import type { AgentRecord, AgentRole } from "../../generated/proto/fleet/v1/registry_pb.js";
import { buildEnvelope } from "../client/draft.js";
import type { Identity } from "../crypto/index.js";
import { systemClock, type Clock, type TimerId } from "../clock.js";
import { asFleetError, ErrorCode, type FleetError } from "../errors.js";
import { DEFAULT_HEARTBEAT } from "../protocol/heartbeat.js";
import { RegistryReplica } from "../protocol/registry.js";
import { SUPPORTED_VERSIONS } from "../protocol/versions.js";
import type { NatsFleetConnection } from "./connection.js";
import { NatsRegistrySync } from "./registry.js";
import { subjects } from "./subjects.js";

export interface MembershipOptions {
  /** What this agent offers (names, or offers carrying their grants: grants.ts). */
  capabilities?: readonly (string | Capability)[];
  groups?: string[];
  role?: AgentRole;
  /** Registry digest period (default 2 s). */
  syncIntervalMs?: number;
  /** Presence heartbeat period (default 5 s) and silence after which a peer counts as offline (default 30 s). */
  heartbeatMs?: number;
  deadAfterMs?: number;
  clock?: Clock;
  onError?: (e: FleetError) => void;
  /** Refuses records (and leaves them out of answers) that fail it: granted capabilities (grants.ts). */
  checkRecord?: (record: AgentRecord, pointer: string) => void;
}

export class NatsMembership {
  readonly replica: RegistryReplica;
  readonly sync: NatsRegistrySync;
  private readonly heard = new Map<string, number>();
  private readonly clock: Clock;
  private heartbeatTimer: TimerId | undefined;
  private settleTimer: TimerId | undefined;
  private sequence = 0n;
  private stopPresence: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly conn: NatsFleetConnection,
    private readonly opts: MembershipOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    // Owner-only writes: we sign our own record; others' entries must carry their owners'
    // signatures by the keys this connection has pinned (spec/registry.md "Owners").
    this.replica = new RegistryReplica({ node: conn.agent, clock: this.clock, owners: conn.keys, signer: conn.identity, checkRecord: opts.checkRecord });
    this.sync = new NatsRegistrySync(conn, this.replica, {
      intervalMs: opts.syncIntervalMs,
      clock: this.clock,
      serveQueries: false,
      isOnline: (agent) => this.isOnline(agent),
      onError: opts.onError,
    });
  }

  start(): void {
    const id = this.conn.identity;
    this.replica.putAgent({
      agentId: id.agent,
      keyId: id.keyId,
      publicKey: id.publicKey,
      role: this.opts.role,
      capabilities: (this.opts.capabilities ?? []).map((c) => (typeof c === "string" ? create(CapabilitySchema, { name: c }) : c)),
      groups: this.opts.groups ?? [],
      versions: [...SUPPORTED_VERSIONS],
    });
    this.stopPresence = this.conn.listen(subjects.presenceAll(), (env) => {
      if (env.body?.kind.case === "heartbeat") this.heard.set(env.sender, this.clock.now());
    });
    // Settled: another replica's traffic reached us, or two digest periods passed alone.
    const settle = () => {
      this.sync.serveQueries();
      this.markSettled();
    };
    const unsubscribe = this.replica.onChange(() => {
      if (this.replica.entries().some((e) => e.key !== `agent/${id.agent}`)) settle();
    });
    this.settleTimer = this.clock.setTimer(settle, 2 * (this.opts.syncIntervalMs ?? 2_000));
    this.sync.start();
    this.beat();
    this.stopSettle = unsubscribe;
  }

  private stopSettle: (() => void) | undefined;
  private markSettled: () => void = () => {};
  /** Resolves once this replica answers queries (it heard another replica, or two digest periods passed). */
  readonly settled: Promise<void> = new Promise((r) => (this.markSettled = r));

  /** Our registry record names the key we sign with after a rotation (the replicas sync it on). */
  rekey(id: Identity): void {
    this.replica.setSigner(id);
    const prev = this.replica.agent(id.agent);
    if (prev) this.replica.putAgent({ ...prev, keyId: id.keyId, publicKey: id.publicKey });
  }

  /** Heard a heartbeat within the dead-after window (ourselves: always). */
  isOnline(agent: string): boolean {
    if (agent === this.conn.agent) return !this.stopped;
    const at = this.heard.get(agent);
    return at !== undefined && this.clock.now() - at < (this.opts.deadAfterMs ?? DEFAULT_HEARTBEAT.deadAfterMs);
  }

  private beat(): void {
    if (this.stopped) return;
    this.sequence++;
    const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, ttlSeconds: 60, body: { case: "heartbeat", value: create(HeartbeatSchema, { sequence: this.sequence }) } }, this.conn.agent, this.clock);
    this.conn.publishEnvelope(env).catch((e) => this.opts.onError?.(asFleetError(e, ErrorCode.HEARTBEAT_MISSED, "presence heartbeat")));
    this.heartbeatTimer = this.clock.setTimer(() => this.beat(), this.opts.heartbeatMs ?? DEFAULT_HEARTBEAT.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) this.clock.clearTimer(this.heartbeatTimer);
    if (this.settleTimer !== undefined) this.clock.clearTimer(this.settleTimer);
    this.stopSettle?.();
    this.stopPresence?.();
    this.sync.stop();
  }
}
