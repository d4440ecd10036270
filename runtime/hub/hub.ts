// The local fleet hub: accepts FrameConnections from any listener (TCP, WebSocket),
// requires the handshake first, binds each connection to its authenticated agent, and
// routes envelopes (direct, group, capability, broadcast) with durable receipts.
//
// Receipts: a message with requires_ack is ACCEPTED only after it is committed to SQLite
// (one inbox row per recipient, group-committed with everything else that arrived in the
// same event-loop turn). It is then also delivered to online recipients, and its row is
// kept until the recipient acknowledges it, so a SIGKILL at any point loses nothing that
// was acknowledged and recipients dedupe redeliveries by id.
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Capability } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { type Packet, PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { errorBody, receiptBody } from "../client/bodies.js";
import { buildEnvelope, type EnvelopeDraft } from "../client/draft.js";
import { systemClock, type Clock, type TimerId } from "../clock.js";
import { decodeEnvelope, decodePacket, encodePacket, envelopeFromJson, PayloadType } from "../codec/index.js";
import { checkFreshness, keyIdFor, openSignedEnvelope, PinnedKeys, redactText, signEnvelope, StaticKeys, verifyToken } from "../crypto/index.js";
import { asFleetError, ErrorCode, errorCodeName, FleetError } from "../errors.js";
import { HandshakeResponder } from "../protocol/handshake.js";
import { RegistryReplica } from "../protocol/registry.js";
import type { FrameConnection, FrameListener } from "../transport/listener.js";
import { BottleKeeper } from "./bottles.js";
import { handleHubRequest } from "./hub-requests.js";
import { HUB_CONNECT_SCOPE, hubAudience, resolveHubOptions, type HubOptions, type ResolvedHubOptions } from "./options.js";
import { type Incoming, Peer } from "./peer.js";
import { TokenBuckets } from "./rate-limit.js";
import { SqliteRegistryStorage } from "./registry-storage.js";
import { readRouteEnvelope, readSignedPacket } from "./route-header.js";
import { HubStore } from "./store.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

interface PendingWrite {
  msg: Incoming;
  /** Recipients to store a row for. */
  store: string[];
  /** Online recipients to deliver to once committed. */
  deliver: string[];
  ack: boolean;
}

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
}

export class Hub {
  readonly options: ResolvedHubOptions;
  readonly clock: Clock;
  readonly store: HubStore;
  readonly pins: PinnedKeys;
  readonly registry: RegistryReplica;
  readonly bottles: BottleKeeper;
  private readonly peers = new Set<Peer>();
  private readonly online = new Map<string, Peer>();
  private readonly limiter: TokenBuckets;
  private readonly recent = new Map<string, number>();
  private pending: PendingWrite[] = [];
  private inboxAcks: [string, string][] = [];
  private flushScheduled = false;
  private timer: TimerId | undefined;
  private readonly listeners: FrameListener[] = [];
  private readonly startedAt: number;
  private readonly hellos = new WeakMap<Peer, Capability[]>();
  readonly counters = { routed: 0, stored: 0, rejected: 0 };
  /** Test and CLI hook: one redacted line per notable event. */
  log: (line: string) => void = () => {};

  constructor(opts: HubOptions) {
    this.clock = opts.clock ?? systemClock;
    this.options = resolveHubOptions(opts, this.clock);
    this.store = new HubStore(this.options.storeDir, { maxBytes: this.options.storeMaxBytes });
    this.pins = new PinnedKeys(
      {
        load: () => this.store.pins().map((p) => ({ agent: p.agent, keyId: "", publicKey: p.publicKey, pinnedAt: 0 })).map(fillKeyId),
        save: (pin) => this.store.putPin(pin.agent, pin.publicKey),
      },
      () => this.clock.now(),
    );
    this.registry = new RegistryReplica({ node: this.options.identity.agent, clock: this.clock, storage: new SqliteRegistryStorage(this.store) });
    this.limiter = new TokenBuckets(this.options.ratePerSecond, this.options.rateBurst, this.clock);
    this.bottles = new BottleKeeper(this);
    this.startedAt = this.clock.now();
    this.arm();
  }

  get agent(): string {
    return this.options.identity.agent;
  }

  /** Serves every connection the listener accepts. */
  serve(listener: FrameListener): void {
    this.listeners.push(listener);
    listener.onConnection((conn) => this.accept(conn));
  }

  /** The open connection of an agent, if online. */
  peer(agent: string): Peer | undefined {
    return this.online.get(agent);
  }

  isOnline(agent: string): boolean {
    return this.online.has(agent);
  }

  onlineAgents(): string[] {
    return [...this.online.keys()].sort();
  }

  stats(): HubStats {
    return {
      agent: this.agent,
      uptimeMs: this.clock.now() - this.startedAt,
      connections: this.peers.size,
      online: this.onlineAgents(),
      routed: this.counters.routed,
      stored: this.counters.stored,
      rejected: this.counters.rejected,
      inbox: this.store.inboxSize(),
      verify: this.options.verify,
    };
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.flush();
    await Promise.all(this.listeners.map((l) => l.close()));
    for (const p of this.peers) p.conn.close();
    this.store.close();
  }

  // ---- connections ----

  accept(conn: FrameConnection): void {
    const responder = new HandshakeResponder({
      identity: this.options.identity,
      keys: this.pins,
      clock: this.clock,
      maxFrameBytes: this.options.maxFrameBytes,
      // The responder pins the name to its key at the Confirm (TOFU; 104 for another key later).
      admit: (hello, agent) => {
        if (this.options.admission === "token") this.checkToken(hello.admissionToken, agent);
        this.hellos.set(peer, hello.capabilities?.offered ?? []);
      },
    });
    const peer = new Peer(conn, responder, this.clock.now());
    this.peers.add(peer);
    conn.onFrame((body) => this.frame(peer, body));
    conn.onError((e) => this.violation(peer, e));
    conn.onClose(() => this.gone(peer));
    conn.onDrain(() => {
      peer.busySince = 0;
      if (peer.draining) this.drainBacklog(peer);
    });
  }

  /** Admission: a token this hub issued, for this hub, for this agent (603/602/608/601 otherwise). */
  private checkToken(text: string, agent: string): void {
    if (!text) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "this hub requires an admission token", { pointer: "/body/hello/admissionToken" });
    const id = this.options.identity;
    verifyToken(text, {
      keys: new StaticKeys([{ agent: id.agent, publicKey: id.publicKey }]),
      audience: hubAudience(id),
      scope: HUB_CONNECT_SCOPE,
      subject: agent,
      clock: this.clock,
      uses: this.store,
    });
  }

  private gone(peer: Peer): void {
    peer.responder.cancel();
    if (peer.state === "closed") return;
    peer.state = "closed";
    this.peers.delete(peer);
    if (peer.agent && this.online.get(peer.agent) === peer) {
      this.online.delete(peer.agent);
      this.log(`offline ${peer.agent}`);
    }
  }

  /** Sends a signed ERROR envelope as the last frame, then closes (spec/frame.md). */
  violation(peer: Peer, error: FleetError, messageId = ""): void {
    if (peer.state === "closed") return;
    this.counters.rejected++;
    this.log(`close ${peer.label}: ${error.code} ${errorCodeName(error.code)} ${redactText(error.message)}`);
    let last: Uint8Array | undefined;
    try {
      const env = buildEnvelope(
        { to: peer.agent || "unknown", type: MessageType.ERROR, body: errorBody(error.code, redactText(error.message), { pointer: error.pointer, messageId }), ttlSeconds: 60 },
        this.agent,
        this.clock,
      );
      last = encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, this.options.identity) } }));
    } catch {
      last = undefined;
    }
    peer.state = "closed";
    this.peers.delete(peer);
    if (peer.agent && this.online.get(peer.agent) === peer) this.online.delete(peer.agent);
    peer.conn.close(last);
  }

  /** Ends a connection without an error (what it sent was handled): queued frames are flushed first. */
  release(peer: Peer): void {
    if (peer.state === "closed") return;
    peer.state = "closed";
    this.peers.delete(peer);
    if (peer.agent && this.online.get(peer.agent) === peer) this.online.delete(peer.agent);
    peer.conn.close();
  }

  private frame(peer: Peer, body: Uint8Array): void {
    if (peer.state === "closed") return;
    peer.lastSeen = this.clock.now();
    try {
      if (peer.state === "open" && this.options.verify === "none" && this.fastForward(peer, body)) return;
      const packet = decodePacket(body);
      if (peer.state === "handshake") this.handshake(peer, packet);
      else this.message(peer, packet, body);
    } catch (e) {
      this.violation(peer, asFleetError(e, ErrorCode.INTERNAL_ERROR, "frame"));
    }
  }

  private handshake(peer: Peer, packet: Packet): void {
    if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, "complete the handshake first");
    const step = peer.responder.receive(packet.kind.value);
    if (step.send) peer.conn.send(encodePacket(create(PacketSchema, { kind: { case: "signed", value: step.send } })));
    if (step.error) {
      // A HelloReject already told the peer why; close after it.
      if (step.send) {
        peer.state = "closed";
        this.peers.delete(peer);
        peer.conn.close();
      } else this.violation(peer, step.error);
      return;
    }
    if (!step.established) return;
    const est = step.established;
    peer.agent = est.peer;
    peer.keyId = est.peerKeyId;
    peer.publicKey = est.peerPublicKey;
    peer.session = est.session;
    peer.state = "open";
    const previous = this.online.get(peer.agent);
    if (previous && previous !== peer) this.violation(previous, new FleetError(ErrorCode.UNKNOWN_ERROR, `superseded by a newer connection for ${peer.agent}`));
    this.online.set(peer.agent, peer);
    this.log(`online ${peer.agent} ${peer.keyId}`);
    this.register(peer);
    peer.backlogUntil = Number.MAX_SAFE_INTEGER;
    this.flush(); // anything still pending for this agent lands in the backlog
    this.startBacklog(peer);
    this.bottles.evaluate();
  }

  /** The hub's registry entry for a connected agent: key and offer from the handshake. */
  private register(peer: Peer): void {
    const prev = this.registry.agent(peer.agent);
    const offered = this.hellos.get(peer) ?? [];
    const same = prev && prev.keyId === peer.keyId && JSON.stringify(prev.capabilities.map((c) => [c.name, c.version])) === JSON.stringify(offered.map((c) => [c.name, c.version]));
    if (same) return;
    try {
      this.registry.putAgent({ role: prev?.role, groups: prev?.groups, endpoints: prev?.endpoints, agentId: peer.agent, keyId: peer.keyId, publicKey: peer.publicKey, capabilities: offered, versions: prev?.versions.length ? prev.versions : ["3.0"] });
    } catch (e) {
      this.log(`registry write failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "registry").message}`);
    }
  }

  /**
   * Signed packets for other agents, with verify "none": route on the header fields read in
   * place and forward the bytes unchanged (recipients parse and verify everything). False
   * when the packet needs the full path (session packets, requests to the hub, JSON payloads).
   */
  private fastForward(peer: Peer, body: Uint8Array): boolean {
    const view = readSignedPacket(body);
    if (!view) return false;
    if (view.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.keyId}; signed by ${view.keyId || "nobody"}`, { pointer: "/signature/keyId" });
    if (view.sigLength !== 64) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "Ed25519 signature must be 64 bytes", { pointer: "/signature/sig" });
    const env = readRouteEnvelope(view.payloadType, view.payload);
    if (!env || env.recipient?.target.case === "hub") return false;
    if (env.sender !== peer.agent) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.agent}; message claims ${env.sender}`, { pointer: "/sender" });
    if (env.security?.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "security.key_id is not the connection's key", { pointer: "/security/keyId" });
    this.route({ peer, env, packet: body, signed: true });
    return true;
  }

  private message(peer: Peer, packet: Packet, body: Uint8Array): void {
    let env: Envelope;
    let signed: boolean;
    let forward = body;
    if (packet.kind.case === "session") {
      env = peer.session!.open(packet.kind.value);
      signed = false;
      // Stored as an unsealed template: re-sealed for the recipient's own session on delivery.
      const se = packet.kind.value;
      forward = toBinary(PacketSchema, create(PacketSchema, { kind: { case: "session", value: { payloadType: se.payloadType, payload: se.payload } } }));
    } else if (packet.kind.case === "signed") {
      const s = packet.kind.value;
      if (s.signature?.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.keyId}; signed by ${s.signature?.keyId ?? "nobody"}`, { pointer: "/signature/keyId" });
      env = this.options.verify === "all" ? openSignedEnvelope(s, { keys: this.pins }) : parseSigned(s.payloadType, s.payload);
      signed = true;
    } else throw new FleetError(ErrorCode.WIRE_MALFORMED, "empty packet");
    if (env.sender !== peer.agent) {
      throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `connection is bound to ${peer.agent}; message claims ${env.sender}`, { pointer: "/sender" });
    }
    if (signed && env.security?.keyId !== peer.keyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "security.key_id is not the connection's key", { pointer: "/security/keyId" });
    this.route({ peer, env, packet: forward, signed });
  }

  // ---- routing ----

  private route(msg: Incoming): void {
    const { peer, env } = msg;
    const to = env.recipient?.target;
    if (to?.case === "hub") {
      handleHubRequest(this, msg);
      return;
    }
    try {
      checkFreshness(env, this.clock.now(), this.options.skewMs);
    } catch (e) {
      this.reject(peer, env, asFleetError(e, ErrorCode.DELIVERY_EXPIRED, "freshness"));
      return;
    }
    const wait = this.limiter.take(peer.agent);
    if (wait > 0) {
      this.reject(peer, env, new FleetError(ErrorCode.DELIVERY_RATE_LIMITED, `rate limit ${this.options.ratePerSecond}/s exceeded`), wait);
      return;
    }
    if (!env.requiresAck && this.duplicate(env)) {
      this.reject(peer, env, new FleetError(ErrorCode.DELIVERY_DUPLICATE, `duplicate message ${env.id}`));
      return;
    }
    const targets = this.targets(env);
    // Nobody to hold it for: say so rather than acknowledge a message that goes nowhere.
    if (!targets.length && to?.case === "capability") {
      this.reject(peer, env, new FleetError(ErrorCode.DISCOVERY_CAPABILITY_NOT_FOUND, `no online agent offers ${to.value}`, { pointer: "/recipient/capability" }));
      return;
    }
    if (!targets.length && to?.case === "group") {
      this.reject(peer, env, new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `group ${to.value} has no members`, { pointer: "/recipient/group" }));
      return;
    }
    const busy = targets.filter((t) => this.isBusy(t));
    if (to?.case === "agent" && busy.length) {
      this.reject(peer, env, new FleetError(ErrorCode.DELIVERY_BUSY, `${to.value} is not keeping up; retry later`), 250);
      return;
    }
    const live = targets.filter((t) => this.online.has(t) && !busy.includes(t));
    const offline = targets.filter((t) => !this.online.has(t));
    this.counters.routed++;
    if (env.requiresAck) {
      this.enqueue({ msg, store: targets, deliver: live, ack: true });
      return;
    }
    for (const t of live) this.deliver(this.online.get(t)!, msg.packet, msg.signed, env);
    if (offline.length) this.enqueue({ msg, store: offline, deliver: [], ack: false });
  }

  /** Agents a message goes to (never back to its sender). */
  private targets(env: Envelope): string[] {
    const to = env.recipient!.target;
    const sender = env.sender;
    switch (to.case) {
      case "agent":
        return [to.value];
      case "broadcast":
      case "discovery":
        return this.onlineAgents().filter((a) => a !== sender);
      case "group":
        return this.registry.query(create(RegistryQuerySchema)).agents.filter((a) => a.groups.includes(to.value) && a.agentId !== sender).map((a) => a.agentId);
      case "capability":
        return this.registry
          .query(create(RegistryQuerySchema, { capability: to.value, onlineOnly: true }), (a) => this.online.has(a))
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
    const key = `${env.sender}\u0000${env.id}`;
    const now = this.clock.now();
    const at = this.recent.get(key);
    if (at !== undefined && now - at < this.options.dedupeWindowMs) return true;
    this.recent.set(key, now);
    if (this.recent.size > this.options.dedupeEntries) {
      let drop = Math.ceil(this.options.dedupeEntries / 10);
      for (const k of this.recent.keys()) {
        if (drop-- <= 0) break;
        this.recent.delete(k);
      }
    }
    return false;
  }

  private isBusy(agent: string): boolean {
    const p = this.online.get(agent);
    if (!p) return false;
    const queued = p.conn.bufferedAmount;
    if (queued <= this.options.maxQueueBytes) return false;
    if (!p.busySince) p.busySince = this.clock.now();
    if (queued > 4 * this.options.maxQueueBytes) this.violation(p, new FleetError(ErrorCode.DELIVERY_BUSY, "slow consumer: send queue over its hard limit"));
    return true;
  }

  /** Writes a packet to a peer: signed packets unchanged, session templates sealed for it. */
  deliver(peer: Peer, packet: Uint8Array, signed: boolean, env?: Envelope): void {
    if (peer.state !== "open") return;
    if (signed) {
      peer.conn.send(packet);
      return;
    }
    let e = env;
    if (!e) {
      const p = decodePacket(packet);
      if (p.kind.case !== "session") return;
      e = parseSigned(p.kind.value.payloadType, p.kind.value.payload);
    }
    peer.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: peer.session!.seal(e) } })));
  }

  /** A hub-originated message to a connected peer, authenticated by its session. */
  reply(peer: Peer, draft: Omit<EnvelopeDraft, "to">): void {
    if (peer.state !== "open") return;
    const env = buildEnvelope({ ...draft, to: peer.agent }, this.agent, this.clock);
    peer.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: peer.session!.seal(env) } })));
  }

  receipt(peer: Peer, env: Envelope, status: ReceiptStatus, code: ErrorCode | 0 = 0, detail = "", retryAfterMs = 0): void {
    this.reply(peer, { type: MessageType.RESPONSE, inReplyTo: env.id, correlationId: env.correlationId, body: receiptBody(env.id, status, code, detail, retryAfterMs) });
  }

  /** Refuses one message without closing: a REJECTED receipt when it wanted one, else an ERROR envelope. */
  reject(peer: Peer, env: Envelope, error: FleetError, retryAfterMs = 0): void {
    this.counters.rejected++;
    if (env.requiresAck) this.receipt(peer, env, ReceiptStatus.REJECTED, error.code, redactText(error.message), retryAfterMs);
    else this.reply(peer, { type: MessageType.ERROR, inReplyTo: env.id, body: errorBody(error.code, redactText(error.message), { pointer: error.pointer, messageId: env.id }) });
  }

  // ---- group commit ----

  private enqueue(w: PendingWrite): void {
    this.pending.push(w);
    this.scheduleFlush();
  }

  /** A recipient acknowledged a stored message: its row can go. */
  acknowledged(agent: string, messageId: string): void {
    this.inboxAcks.push([agent, messageId]);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Commits everything pending in one transaction, then answers and delivers. */
  flush(): void {
    this.flushScheduled = false;
    if (!this.pending.length && !this.inboxAcks.length) return;
    const batch = this.pending;
    const acks = this.inboxAcks;
    this.pending = [];
    this.inboxAcks = [];
    const now = this.clock.now();
    const dup = new Set<PendingWrite>();
    try {
      this.store.transaction(() => {
        for (const [agent, id] of acks) this.store.removeInbox(agent, id);
        for (const w of batch) {
          const { env, packet } = w.msg;
          if (w.ack && this.store.seen(env.sender, env.id, now - this.options.dedupeWindowMs)) {
            dup.add(w);
            continue;
          }
          const expiresAt = timestampMs(env.createdAt!) + env.ttlSeconds * 1000;
          for (const r of w.store) this.store.addInbox({ recipient: r, messageId: env.id, sender: env.sender, packet, expiresAt, needsAck: w.ack });
          if (w.ack) this.store.remember(env.sender, env.id, now);
        }
      });
    } catch (e) {
      const err = asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "store");
      this.log(`store failed: ${err.message}`);
      for (const w of batch) this.reject(w.msg.peer, w.msg.env, err);
      return;
    }
    for (const w of batch) {
      const { peer, env } = w.msg;
      if (dup.has(w)) {
        if (w.ack) this.receipt(peer, env, ReceiptStatus.ACCEPTED, ErrorCode.DELIVERY_DUPLICATE, "duplicate: already accepted");
        continue;
      }
      this.counters.stored += w.store.length;
      if (w.ack) this.receipt(peer, env, ReceiptStatus.ACCEPTED);
      for (const t of w.deliver) {
        const p = this.online.get(t);
        if (p) this.deliver(p, w.msg.packet, w.msg.signed, env);
      }
    }
  }

  // ---- offline backlog ----

  private startBacklog(peer: Peer): void {
    const rows = this.store.pendingFor(peer.agent, this.clock.now(), 0, 1);
    if (!rows.length) return;
    peer.backlogUntil = this.lastSeq(peer.agent);
    peer.backlogCursor = 0;
    peer.draining = true;
    this.drainBacklog(peer);
  }

  private lastSeq(agent: string): number {
    let last = 0;
    for (;;) {
      const rows = this.store.pendingFor(agent, 0, last, 1_000);
      if (!rows.length) return last;
      last = rows[rows.length - 1].seq;
    }
  }

  /** Writes backlog rows until the peer's queue fills; resumes on drain. */
  private drainBacklog(peer: Peer): void {
    while (peer.draining && peer.state === "open" && peer.conn.bufferedAmount < this.options.maxQueueBytes) {
      const rows = this.store.pendingFor(peer.agent, this.clock.now(), peer.backlogCursor, 256).filter((r) => r.seq <= peer.backlogUntil);
      if (!rows.length) {
        peer.draining = false;
        return;
      }
      for (const r of rows) {
        peer.backlogCursor = r.seq;
        try {
          this.deliver(peer, r.packet, r.packet[0] === 0x0a);
        } catch (e) {
          this.log(`dropping undeliverable inbox row ${r.messageId}: ${asFleetError(e, ErrorCode.INTERNAL_ERROR, "inbox").message}`);
          this.acknowledged(peer.agent, r.messageId);
          continue;
        }
        if (!r.needsAck) this.acknowledged(peer.agent, r.messageId);
      }
    }
  }

  // ---- maintenance ----

  private arm(): void {
    this.timer = this.clock.setTimer(() => {
      this.maintain();
      this.arm();
    }, 1_000);
  }

  /** Idle and slow-consumer checks, expiry sweep, time-based bottle conditions. */
  maintain(): void {
    const now = this.clock.now();
    for (const p of [...this.peers]) {
      if (p.state === "handshake" && now - p.openedAt > this.options.handshakeTimeoutMs) {
        this.violation(p, new FleetError(ErrorCode.HANDSHAKE_TIMEOUT, "handshake not completed in time"));
      } else if (now - p.lastSeen > this.options.idleTimeoutMs) {
        this.violation(p, new FleetError(ErrorCode.DELIVERY_IDLE_TIMEOUT, `idle for ${Math.round((now - p.lastSeen) / 1000)} s`));
      } else if (p.busySince) {
        if (p.conn.bufferedAmount <= this.options.maxQueueBytes) p.busySince = 0;
        else if (now - p.busySince > this.options.slowConsumerMs) this.violation(p, new FleetError(ErrorCode.DELIVERY_BUSY, "slow consumer: queue stayed full"));
      }
    }
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      try {
        this.store.sweep(now, now - this.options.dedupeWindowMs);
      } catch (e) {
        this.log(`sweep failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "sweep").message}`);
      }
    }
    this.bottles.evaluate();
  }
  private lastSweep = 0;
}

function fillKeyId<T extends { publicKey: Uint8Array; keyId: string }>(pin: T): T {
  return { ...pin, keyId: keyIdFor(pin.publicKey) };
}

/** Parses a signed or session payload per its type (no signature check: see HubOptions.verify). */
export function parseSigned(payloadType: string, payload: Uint8Array): Envelope {
  if (payloadType === PayloadType.envelopeProto) return decodeEnvelope(payload);
  if (payloadType === PayloadType.envelopeJson) {
    let json: unknown;
    try {
      json = JSON.parse(utf8.decode(payload));
    } catch (e) {
      throw asFleetError(e, ErrorCode.WIRE_MALFORMED, "envelope JSON");
    }
    return envelopeFromJson(json);
  }
  throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `unsupported payload type ${payloadType}`, { pointer: "/payloadType" });
}
