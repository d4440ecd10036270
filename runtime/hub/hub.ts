// The local fleet hub: accepts FrameConnections from any listener (TCP, WebSocket),
// requires the handshake first (admission.ts), binds each connection to its authenticated
// agent (connections.ts), and routes envelopes (inbound.ts, routing.ts: direct, group,
// capability, broadcast) with durable receipts (group-commit.ts).
//
// Receipts: a message with requires_ack is ACCEPTED only after it is committed to SQLite
// (one inbox row per recipient, group-committed with everything else that arrived in the
// same event-loop turn). It is then also delivered to online recipients, and its row is
// kept until the recipient acknowledges it, so a SIGKILL at any point loses nothing that
// was acknowledged and recipients dedupe redeliveries by id.
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { EnvelopeDraft } from "../client/draft.js";
import { systemClock, type Clock } from "../clock.js";
import { ErrorCode, FleetError } from "../errors.js";
import { RegistryReplica } from "../protocol/registry.js";
import type { FrameConnection, FrameListener } from "../transport/listener.js";
import { newPeer } from "./admission.js";
import { drainBacklog } from "./backlog.js";
import { BottleKeeper } from "./bottles.js";
import { Connections } from "./connections.js";
import { type Answerable, deliver, receipt, reject, reply } from "./delivery.js";
import { GroupCommit } from "./group-commit.js";
import { AdmissionBatch } from "./admission-batch.js";
import { HubGroups } from "./groups.js";
import { CapabilityGrants } from "../protocol/capability-grants.js";
import type { HistoryOptions } from "./history.js";
import { HistoryClient } from "./history-client.js";
import { receiveFrame } from "./inbound.js";
import { Maintenance } from "./maintenance.js";
import { resolveHubOptions, type HubOptions, type ResolvedHubOptions } from "./options.js";
import type { Peer } from "./peer.js";
import { StorePins } from "./pins.js";
import { SqliteRegistryStorage } from "./registry-storage.js";
import { InboxQuota } from "./quota.js";
import { Router } from "./routing.js";
import { HubStore } from "./store.js";
import { HubTickets } from "./tickets.js";

export { parseSigned } from "./parse-signed.js";

export interface HubStats {
  agent: string;
  uptimeMs: number;
  connections: number;
  online: string[];
  routed: number;
  stored: number;
  rejected: number;
  inbox: number;
  verify: "all" | "none";
  /** Bounded state (issue 12): stored inbox bytes, rate buckets held, pinned identities, connections handshaking. */
  inboxBytes: number;
  rateBuckets: number;
  pins: number;
  pending: number;
}

export class Hub {
  readonly options: ResolvedHubOptions;
  readonly clock: Clock;
  readonly store: HubStore;
  readonly pins: StorePins;
  /** Resumption tickets (tickets.ts): sealed under storeDir/ticket.key, no table. */
  readonly tickets: HubTickets;
  readonly registry: RegistryReplica;
  readonly registryStorage: SqliteRegistryStorage;
  readonly bottles: BottleKeeper;
  readonly connections: Connections;
  readonly router: Router;
  readonly commits: GroupCommit;
  readonly admissions: AdmissionBatch;
  /** Bounded message history and threads (history.ts, spec/history.md). */
  readonly history: HistoryClient;
  readonly quota: InboxQuota;
  /** Groups with a chain of signed statements (groups.ts). */
  readonly groups: HubGroups;
  /** Granted capabilities: which need a grant, and the verdicts on grants offered (spec/capabilities.md). */
  readonly grants: CapabilityGrants;
  readonly counters = { routed: 0, stored: 0, rejected: 0 };
  /** Test and CLI hook: one redacted line per notable event. */
  log: (line: string) => void = () => {};
  private readonly maintenance: Maintenance;
  private readonly listeners: FrameListener[] = [];
  private readonly startedAt: number;

  constructor(opts: HubOptions & { history?: HistoryOptions }) {
    this.clock = opts.clock ?? systemClock;
    this.options = resolveHubOptions(opts, this.clock);
    this.store = new HubStore(this.options.storeDir, { maxBytes: this.options.storeMaxBytes });
    this.pins = new StorePins(this.store, () => this.clock.now());
    this.tickets = HubTickets.open(this.options.storeDir, this.options.ticketLifetimeMs, this.clock);
    this.quota = new InboxQuota(this);
    this.registryStorage = new SqliteRegistryStorage(this.store);
    this.registry = new RegistryReplica({ node: this.options.identity.agent, clock: this.clock, storage: this.registryStorage });
    this.groups = new HubGroups(this);
    this.grants = new CapabilityGrants(this.options.capabilityPolicy, this.clock, this.options.skewMs);
    this.connections = new Connections(this);
    this.router = new Router(this);
    this.commits = new GroupCommit(this);
    this.admissions = new AdmissionBatch(this);
    this.bottles = new BottleKeeper(this);
    this.history = new HistoryClient(this.options.storeDir, opts.history, (line) => this.log(line));
    this.maintenance = new Maintenance(this);
    this.startedAt = this.clock.now();
    this.maintenance.start();
  }

  get agent(): string {
    return this.options.identity.agent;
  }

  /** Serves every connection the listener accepts. */
  serve(listener: FrameListener): void {
    this.listeners.push(listener);
    listener.onConnection((conn) => this.accept(conn));
  }

  accept(conn: FrameConnection): void {
    // Until the handshake completes a peer may send only what a Hello needs, and only
    // maxPendingConnections peers may be handshaking at once (their buffers are bounded together).
    conn.setMaxFrameBytes?.(Math.min(this.options.maxHandshakeFrameBytes, this.options.maxFrameBytes));
    const peer = newPeer(this, conn);
    if (this.connections.pending >= this.options.maxPendingConnections) {
      this.connections.add(peer);
      this.violation(peer, new FleetError(ErrorCode.DELIVERY_BUSY, `too many connections handshaking (${this.options.maxPendingConnections}); retry later`));
      return;
    }
    this.connections.add(peer);
    conn.onFrame((body) => receiveFrame(this, peer, body));
    conn.onError((e) => this.violation(peer, e));
    conn.onClose(() => this.connections.gone(peer));
    conn.onDrain(() => {
      peer.busySince = 0;
      if (peer.draining) drainBacklog(this, peer);
    });
  }

  /** The open connection of an agent, if online. */
  peer(agent: string): Peer | undefined {
    return this.connections.online.get(agent);
  }

  isOnline(agent: string): boolean {
    return this.connections.online.has(agent);
  }

  onlineAgents(): string[] {
    return this.connections.onlineAgents();
  }

  stats(): HubStats {
    return {
      agent: this.agent,
      uptimeMs: this.clock.now() - this.startedAt,
      connections: this.connections.peers.size,
      online: this.onlineAgents(),
      routed: this.counters.routed,
      stored: this.counters.stored,
      rejected: this.counters.rejected,
      inbox: this.store.inboxSize(),
      verify: this.options.verify,
      inboxBytes: this.quota.bytes.total,
      rateBuckets: this.router.limiter.size,
      pins: this.pins.entries().length,
      pending: this.connections.pending,
    };
  }

  async close(): Promise<void> {
    this.maintenance.stop();
    this.bottles.stop();
    this.admissions.flush();
    this.flush();
    await Promise.all(this.listeners.map((l) => l.close()));
    for (const p of this.connections.peers) p.conn.close();
    this.store.close();
    await this.history.close();
  }

  /** Sends a signed ERROR envelope as the last frame, then closes (spec/frame.md). */
  violation(peer: Peer, error: FleetError, messageId = ""): void {
    this.connections.violation(peer, error, messageId);
  }

  /** Ends a connection without an error (what it sent was handled): queued frames are flushed first. */
  release(peer: Peer): void {
    this.connections.release(peer);
  }

  /** Writes a packet to a peer: signed packets unchanged, session templates sealed for it. */
  deliver(peer: Peer, packet: Uint8Array, signed: boolean, env?: Envelope): void {
    deliver(peer, packet, signed, env);
  }

  /** A hub-originated message to a connected peer, authenticated by its session. */
  reply(peer: Peer, draft: Omit<EnvelopeDraft, "to">): void {
    reply(this, peer, draft);
  }

  receipt(peer: Peer, msg: Answerable, status: ReceiptStatus, code: ErrorCode | 0 = 0, detail = "", retryAfterMs = 0): void {
    receipt(this, peer, msg, status, code, detail, retryAfterMs);
  }

  /** Refuses one message without closing: a REJECTED receipt when it wanted one, else an ERROR envelope. */
  reject(peer: Peer, msg: Answerable, error: FleetError, retryAfterMs = 0): void {
    reject(this, peer, msg, error, retryAfterMs);
  }

  /** A recipient acknowledged a stored message: its row can go. */
  acknowledged(agent: string, messageId: string): void {
    this.commits.acknowledged(agent, messageId);
  }

  scheduleFlush(): void {
    this.commits.schedule();
  }

  /** Commits everything pending in one transaction, then answers and delivers. */
  flush(): void {
    this.commits.flush();
  }

  /** Idle and slow-consumer checks, expiry sweep, time-based bottle conditions. */
  maintain(): void {
    this.maintenance.run();
  }
}
