// An agent's open connection to a hub (or any peer speaking the framed protocol) after
// the handshake: send with receipts and retries, receive with end-to-end verification,
// request/response, heartbeats, and delivery acknowledgements back to the hub.
// Browser-safe: it only sees a FrameConnection.
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { HeartbeatSchema } from "../../generated/proto/fleet/v1/heartbeat_pb.js";
import { type Receipt, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { RegistryQuerySchema, type RegistryQueryResult } from "../../generated/proto/fleet/v1/registry_pb.js";
import { PacketSchema, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { systemClock, type Clock, type TimerId } from "../clock.js";
import { decodePacket, encodePacket } from "../codec/index.js";
import { keyIdFor, openSignedEnvelopeAsync, PinnedKeys, type ReplayGuard, signEnvelope, signEnvelopeAsync, type Identity, type KeyResolver, type Session } from "../crypto/index.js";
import { parseEnvelope } from "../crypto/envelope-bytes.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { Deduper } from "../protocol/dedupe.js";
import { ReceiptTracker } from "../protocol/receipts.js";
import { readRegistryPages } from "../protocol/registry-answer.js";
import type { FrameConnection } from "../transport/listener.js";
import { errorFromBody, PING_MEDIA_TYPE, receiptBody } from "./bodies.js";
import { openDeliveredBottle } from "./bottles.js";
import { buildEnvelope, type EnvelopeDraft } from "./draft.js";
import { MESSAGE_BUFFER_LIMIT, MessageReaders, type MessagesOptions, type ReceivedMessage } from "./message-stream.js";
import { abortError, type CallOptions, requestOptions, type RequestOptions } from "./call-options.js";
import { backoffDelay, type ConnectionStatus, DEFAULT_RECONNECT, type ReconnectOptions, StatusBoard, type StatusEvent } from "./status.js";

export type { CallOptions, ConnectionStatus, ReconnectOptions, RequestOptions, StatusEvent };
import type { GroupCheck } from "./group-check.js";
import { replayGuardFor } from "./replay.js";

export interface MessageMeta {
  /** True when the sender's Ed25519 signature was verified here, end to end. False: only the hub's session vouches for it. */
  verified: boolean;
}

export type MessageHandler = (env: Envelope, meta: MessageMeta) => void;

export { MESSAGE_BUFFER_LIMIT, type MessagesOptions, type ReceivedMessage };

export interface FleetConnection extends AsyncDisposable {
  readonly agent: string;
  /** "connecting" | "connected" | "disconnected" | "reconnecting" | "closed". */
  readonly status: ConnectionStatus;
  /** Resolves with the hub's ACCEPTED receipt when draft.requiresAck, else once written. A fired signal rejects with 903. */
  send(draft: EnvelopeDraft, options?: CallOptions): Promise<Receipt | undefined>;
  onMessage(handler: MessageHandler): () => void;
  /**
   * Every message from now on, as an async iterator. Each iterator holds at most `limit`
   * (default MESSAGE_BUFFER_LIMIT) messages its reader has not taken; past that it yields
   * what it holds, then throws 804 (nothing is dropped silently). Ends when the connection closes.
   */
  messages(options?: MessagesOptions): AsyncIterableIterator<ReceivedMessage>;
  /** Sends a REQUEST (or the draft's type) and resolves with the first envelope answering it. */
  request(draft: EnvelopeDraft, options?: number | RequestOptions): Promise<Envelope>;
  onStatus(handler: (e: StatusEvent) => void): () => void;
  /** The current status first, then every change; ends after "closed". */
  statuses(): AsyncIterableIterator<StatusEvent>;
  /** Refuses new sends, waits for every send under way (written, and receipted when asked for), then closes. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** A new link after a lost one: a fresh carrier, handshaken again. */
export interface Relink {
  conn: FrameConnection;
  session: Session;
  peer: string;
  peerPublicKey: Uint8Array;
  heartbeatMs: number;
  /** The protocol version the handshake settled on. */
  version?: string;
  /** The handshake resumed a session with a ticket (spec/handshake.md "Resumption"). */
  resumed?: boolean;
}

export interface ConnectionOptions {
  identity: Identity;
  conn: FrameConnection;
  session: Session;
  /** The hub's (peer's) agent name and key, from the handshake. */
  peer: string;
  peerPublicKey: Uint8Array;
  heartbeatMs: number;
  keys?: KeyResolver;
  clock?: Clock;
  receiptTimeoutMs?: number;
  receiptAttempts?: number;
  /** Share one across reconnections so a redelivery after a hub restart is still recognised. */
  dedupe?: Deduper;
  /** Opens and handshakes a new link; without it a lost link closes the connection. */
  redial?: () => Promise<Relink>;
  /** Reconnection policy (false: never reconnect). Default: DEFAULT_RECONNECT. */
  reconnect?: ReconnectOptions | false;
  /** Runs after each reconnection, before held sends go out (connectHub re-joins groups here). */
  onReconnected?: (c: HubConnection) => Promise<void> | void;
  /** Status board shared with connectHub (it reports "connecting" before this object exists). */
  board?: StatusBoard;
  /**
   * Replay rules on everything received (client/replay.ts): skew, ttl, seen ids. Default: one
   * guard per identity in this process (kept across reconnects); give one over a durable
   * ReplayStore to keep it across restarts.
   */
  replay?: ReplayGuard;
  /**
   * The recipient's own group check (client/group-check.ts): a group:<name> message reaches the
   * application only when the connection's fold of the group's chain allows its sender
   * (refused ones go to onDrop with 603). connectHub sets one by default.
   */
  groupCheck?: GroupCheck;
}

interface Held {
  packet: Promise<Uint8Array> | (() => Uint8Array);
  id?: string;
  resolve: () => void;
  reject: (e: FleetError) => void;
}

interface Waiter {
  resolve: (env: Envelope) => void;
  reject: (e: FleetError) => void;
  timer: TimerId;
}

/** Learned keys first (pinned through the hub's registry), the caller's resolver second. */
class LayeredKeys implements KeyResolver {
  constructor(readonly learned: PinnedKeys, private readonly given?: KeyResolver) {}
  resolve(keyId: string) {
    return this.given?.resolve(keyId) ?? this.learned.resolve(keyId);
  }
  checkBinding(agent: string, keyId: string) {
    if (this.given?.keyIdOf?.(agent) !== undefined) this.given.checkBinding(agent, keyId);
    else this.learned.checkBinding(agent, keyId);
  }
  keyIdOf(agent: string) {
    return this.given?.keyIdOf?.(agent) ?? this.learned.keyIdOf(agent);
  }
}

export class HubConnection implements FleetConnection {
  readonly agent: string;
  readonly peer: string;
  private readonly clock: Clock;
  private readonly keys: LayeredKeys;
  private readonly tracker: ReceiptTracker;
  private readonly dedupe?: Deduper;
  private readonly replay: ReplayGuard;
  private readonly handlers = new Set<MessageHandler>();
  private readonly closeHandlers = new Set<(error?: FleetError) => void>();
  private readonly waiters = new Map<string, Waiter>();
  /** Answers request() resolved with whose signature verified end to end (see answerVerified). */
  private readonly verifiedAnswers = new WeakSet<Envelope>();
  private chain: Promise<void> = Promise.resolve();
  private writes: Promise<void> = Promise.resolve();
  private queuedWrites = 0;
  private heartbeat: TimerId | undefined;
  private heartbeatSeq = 0n;
  private closed = false;
  /** close() or drain() was called: a lost link is not re-established. */
  private closing = false;
  private draining = false;
  private link: Relink;
  private readonly board: StatusBoard;
  private readonly policy: Required<ReconnectOptions> | undefined;
  /** Sends written while disconnected, in call order; bounded by policy.maxHeldSends. */
  private held: Held[] = [];
  private reconnectTimer: TimerId | undefined;
  /** Every send under way (drain waits for them). */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly readers = new MessageReaders((e) => this.reportDrop(e));
  /** The error frame the hub sent before closing, if any. */
  lastError?: FleetError;

  constructor(private readonly o: ConnectionOptions) {
    this.agent = o.identity.agent;
    this.peer = o.peer;
    this.link = { conn: o.conn, session: o.session, peer: o.peer, peerPublicKey: o.peerPublicKey, heartbeatMs: o.heartbeatMs };
    this.board = o.board ?? new StatusBoard();
    this.policy = o.redial && o.reconnect !== false ? { ...DEFAULT_RECONNECT, ...(o.reconnect ?? {}) } : undefined;
    this.clock = o.clock ?? systemClock;
    // A PinnedKeys given by the caller (e.g. the CLI's peers.json) also keeps what is learned.
    const learned = o.keys instanceof PinnedKeys ? o.keys : new PinnedKeys(undefined, () => this.clock.now());
    learned.pin(o.peer, o.peerPublicKey);
    this.keys = new LayeredKeys(learned, o.keys instanceof PinnedKeys ? undefined : o.keys);
    this.tracker = new ReceiptTracker({ clock: this.clock, timeoutMs: o.receiptTimeoutMs ?? 3_000, attempts: o.receiptAttempts ?? 3 });
    this.dedupe = o.dedupe;
    this.replay = o.replay ?? replayGuardFor(o.identity, this.clock);
    this.attach(this.link);
    this.board.set("connected");
    this.armHeartbeat();
  }

  /** The current link's handshake resumed a session with a ticket instead of signing. */
  get resumed(): boolean {
    return this.link.resumed === true;
  }

  /** "connecting" | "connected" | "disconnected" | "reconnecting" | "closed". */
  get status(): ConnectionStatus {
    return this.board.status;
  }

  onStatus(handler: (e: StatusEvent) => void): () => void {
    return this.board.on(handler);
  }

  statuses(): AsyncIterableIterator<StatusEvent> {
    return this.board.iterate();
  }

  private attach(link: Relink): void {
    link.conn.onFrame((body) => {
      if (link === this.link) this.receive(body, link);
    });
    link.conn.onClose(() => this.linkLost(link));
  }

  // ---- sending ----

  async send(draft: EnvelopeDraft, options: CallOptions = {}): Promise<Receipt | undefined> {
    this.checkOpen();
    const env = buildEnvelope(draft, this.agent, this.clock);
    return this.sendEnvelope(env, draft.sign !== false, options);
  }

  private checkOpen(): void {
    if (this.closed) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection is closed");
    if (this.draining || this.closing) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection is closing: no new sends");
  }

  /**
   * Sends a built envelope; with requires_ack, retries the same id until the hub's receipt,
   * across reconnections. A fired signal stops it (903): not yet written, it never will be;
   * already written, it is no longer resent or waited for.
   */
  sendEnvelope(env: Envelope, sign = true, options: CallOptions = {}): Promise<Receipt | undefined> {
    const p = this.sendTracked(env, sign, options);
    this.inflight.add(p);
    const forget = () => void this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  private async sendTracked(env: Envelope, sign: boolean, { signal }: CallOptions): Promise<Receipt | undefined> {
    if (signal?.aborted) throw abortError(signal, `send ${env.id}`);
    // Signing starts now (WebCrypto signs several in parallel); the write keeps call order.
    const signed = sign ? signEnvelopeAsync(env, this.o.identity).then((s) => encodePacket(create(PacketSchema, { kind: { case: "signed", value: s } }))) : undefined;
    signed?.catch(() => {}); // reported through the write below
    // A session packet is sealed with whichever link is current when its turn comes.
    const packet = signed ?? (() => encodePacket(create(PacketSchema, { kind: { case: "session", value: this.link.session.seal(env) } })));
    const write = () => this.write(packet, env.id);
    const onAbort = () => {
      const error = abortError(signal!, `send ${env.id}`);
      this.unhold(env.id, error);
      this.tracker.cancel(env.id, error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (!env.requiresAck) {
        await write();
        return undefined;
      }
      const done = this.tracker.track(env.id, () => void write().catch(() => {}), this.peer);
      try {
        await write();
      } catch (e) {
        // Nothing was sent: stop tracking, so no orphaned receipt promise rejects later.
        const error = asFleetError(e, ErrorCode.INTERNAL_ERROR, "send");
        done.catch(() => {});
        this.tracker.cancel(env.id, error);
        throw error;
      }
      return await done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Writes packets in call order. A signed packet may still be being signed, so it waits in
   * line; a session packet is sealed only when its turn comes, so sequence numbers go out in
   * order. With nothing waiting, a session packet is written at once.
   */
  private write(packet: Promise<Uint8Array> | (() => Uint8Array), id?: string): Promise<void> {
    if (this.closed) return Promise.reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection is closed"));
    if (this.board.status !== "connected") return this.hold(packet, id);
    if (this.queuedWrites === 0 && typeof packet === "function") {
      try {
        this.link.conn.send(packet());
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    this.queuedWrites++;
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const step = this.writes.then(async () => {
      const bytes = typeof packet === "function" ? undefined : await packet;
      if (this.board.status !== "connected") {
        // The link went while this waited its turn: held for the next one. The line moves on
        // (held writes are written again after the reconnection, behind this step).
        this.hold(bytes ? () => bytes : packet, id).then(settle.resolve, settle.reject);
        return;
      }
      this.link.conn.send(bytes ?? (packet as () => Uint8Array)());
      settle.resolve();
    });
    step.catch(settle.reject);
    this.writes = step.catch(() => {}).then(() => void this.queuedWrites--);
    return done;
  }

  /** While disconnected: keep the write for the next link, up to policy.maxHeldSends (then 804). */
  private hold(packet: Promise<Uint8Array> | (() => Uint8Array), id?: string): Promise<void> {
    const limit = this.policy?.maxHeldSends ?? 0;
    if (id !== undefined && this.held.some((h) => h.id === id)) return Promise.resolve(); // a retry of one already held
    if (this.held.length >= limit) {
      return Promise.reject(new FleetError(ErrorCode.DELIVERY_BUSY, `not connected to ${this.peer} and ${limit} sends already held: try again once reconnected`));
    }
    return new Promise<void>((resolve, reject) => this.held.push({ packet, id, resolve, reject }));
  }

  private unhold(id: string, error: FleetError): void {
    const i = this.held.findIndex((h) => h.id === id);
    if (i < 0) return;
    const [h] = this.held.splice(i, 1);
    h!.reject(error);
  }

  /** Pre-signs an envelope into Packet bytes (benchmarks and tools that send the same bytes many ways). */
  signPacket(draft: EnvelopeDraft): Uint8Array {
    const env = buildEnvelope(draft, this.agent, this.clock);
    return encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, this.o.identity) } }));
  }

  /** Writes already-built Packet bytes as they are (after any send still being signed). */
  sendRaw(packet: Uint8Array): void {
    if (this.queuedWrites === 0 && this.board.status === "connected") this.link.conn.send(packet);
    else this.write(() => packet).catch(() => {});
  }

  get bufferedAmount(): number {
    return this.link.conn.bufferedAmount;
  }

  /** timeoutMs (default 10 s) or { timeoutMs, signal }: a fired signal rejects with 903. */
  request(draft: EnvelopeDraft, options?: number | RequestOptions): Promise<Envelope> {
    const { timeoutMs, signal } = requestOptions(options);
    try {
      this.checkOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    if (signal?.aborted) return Promise.reject(abortError(signal, "request"));
    const env = buildEnvelope({ ...draft, type: draft.type ?? MessageType.REQUEST }, this.agent, this.clock);
    return new Promise<Envelope>((resolve, reject) => {
      const stop = (e: FleetError) => {
        const w = this.waiters.get(env.id);
        if (!w) return;
        this.clock.clearTimer(w.timer);
        this.waiters.delete(env.id);
        w.reject(e);
      };
      const onAbort = () => stop(abortError(signal!, "request"));
      const timer = this.clock.setTimer(() => stop(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `no answer to ${env.id} within ${timeoutMs} ms`)), timeoutMs);
      const settle = () => signal?.removeEventListener("abort", onAbort);
      this.waiters.set(env.id, {
        resolve: (v) => (settle(), resolve(v)),
        reject: (e) => (settle(), reject(e)),
        timer,
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sendEnvelope(env, draft.sign !== false, { signal }).catch((e) => stop(asFleetError(e, ErrorCode.INTERNAL_ERROR, "request")));
    });
  }

  /** Asks the hub's registry (fleet:hub RegistryQuery), reading every page of a truncated answer. */
  queryRegistry(q: { capability?: string; agentId?: string; onlineOnly?: boolean } = {}): Promise<RegistryQueryResult> {
    return readRegistryPages((page) => this.queryRegistryPage(page), q);
  }

  /** One registry answer: at most 256 agents, truncated when more matched (spec/registry.md). */
  async queryRegistryPage(q: { capability?: string; agentId?: string; onlineOnly?: boolean; afterAgentId?: string } = {}): Promise<RegistryQueryResult> {
    const answer = await this.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "registryQuery", value: create(RegistryQuerySchema, q) } });
    if (answer.body?.kind.case !== "registryQueryResult") throw new FleetError(ErrorCode.WIRE_MALFORMED, "hub answered a registry query with something else");
    return answer.body.kind.value;
  }

  onMessage(handler: MessageHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onClose(handler: (error?: FleetError) => void): () => void {
    if (this.closed) handler(this.lastError);
    else this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  messages(options: MessagesOptions = {}): AsyncIterableIterator<ReceivedMessage> {
    return this.readers.open(options);
  }

  async drain(): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    while (this.inflight.size && !this.closed) await Promise.allSettled([...this.inflight]);
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.reconnectTimer !== undefined) this.clock.clearTimer(this.reconnectTimer);
    if (this.board.status === "connected") {
      await this.chain;
      await this.writes;
    }
    this.link.conn.close();
    this.finish();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- receiving ----

  /**
   * Session frames are opened at once, in arrival order (their sequence numbers demand it),
   * and answers to waiting requests resolve immediately: a signed message whose sender key
   * is being looked up must not block the very answer it waits for. Everything else is
   * handed to the application strictly in order.
   */
  private receive(body: Uint8Array, link: Relink): void {
    if (this.closed) return;
    let packet;
    let opened: ReturnType<Session["openAll"]>;
    try {
      packet = decodePacket(body);
      if (packet.kind.case !== "session") {
        if (packet.kind.case === "signed") {
          const signed = packet.kind.value;
          // A known signer's signature is checked at once (WebCrypto verifies several in
          // parallel); delivery still waits its turn. An unknown one is looked up in order.
          const early = this.keys.resolve(signed.signature?.keyId ?? "") ? this.openSigned(signed) : undefined;
          early?.catch(() => {}); // reported in turn below
          this.chain = this.chain
            .then(async () => {
              const opened = await (early ?? this.openSigned(signed));
              this.noteHubError(opened);
              await this.dispatch(opened, true);
            })
            .catch((e) => this.reportDrop(asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "incoming")));
        }
        return;
      }
      opened = link.session.openAll(packet.kind.value);
    } catch (e) {
      // Unverifiable input is dropped here (never handed to the application).
      const err = asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "incoming");
      this.reportDrop(err);
      // Messages were deleted on an ordered carrier: the session is over (spec/sessions.md).
      if (err.code === ErrorCode.SECURITY_SEQUENCE_GAP) {
        this.lastError = err;
        this.o.conn.close();
        this.finish();
      }
      return;
    }
    // One envelope, or a batch of them (spec/sessions.md): each on its own, in order.
    for (const e of opened.refused) this.reportDrop(e);
    for (const env of opened.envelopes) {
      if (this.answer(env)) continue;
      this.chain = this.chain.then(() => this.dispatch(env, false)).catch(() => {});
    }
  }

  private noteHubError(env: Envelope): void {
    if (env.sender === this.peer && env.type === MessageType.ERROR && env.body?.kind.case === "error" && !env.inReplyTo) {
      this.lastError = errorFromBody(env.body.kind);
    }
  }

  /** True when env, an answer request() resolved with, was verified end to end (signed), not only vouched for by the hub's session. */
  answerVerified(env: Envelope): boolean {
    return this.verifiedAnswers.has(env);
  }

  /** Receipts and answers to pending requests; true when env was one. */
  private answer(env: Envelope, verified = false): boolean {
    const kind = env.body?.kind;
    if (kind?.case === "receipt" && env.sender === this.peer) {
      try {
        this.tracker.onReceipt(kind.value, env.sender);
      } catch {
        // a receipt nobody waits for
      }
      return true;
    }
    const waiter = env.inReplyTo ? this.waiters.get(env.inReplyTo) : undefined;
    if (!waiter) return false;
    if (env.requiresAck) this.ackToHub(env.id);
    this.waiters.delete(env.inReplyTo);
    this.clock.clearTimer(waiter.timer);
    const err = kind ? errorFromBody(kind) : undefined;
    if (verified) this.verifiedAnswers.add(env);
    if (err) waiter.reject(err);
    else waiter.resolve(env);
    return true;
  }

  /** Verifies a signed envelope end to end, learning an unknown sender's key from the hub's registry. */
  private async openSigned(signed: SignedEnvelope): Promise<Envelope> {
    const env = await this.verifySigned(signed);
    if (env.createdAt && timestampMs(env.createdAt) + env.ttlSeconds * 1000 <= this.clock.now()) {
      throw new FleetError(ErrorCode.DELIVERY_EXPIRED, `message ${env.id} expired before it arrived`);
    }
    return env;
  }

  /**
   * Verifies a signed envelope end to end without the freshness check: for stored copies
   * (the hub's history), whose expiry says nothing about their authenticity.
   */
  async verifySigned(signed: SignedEnvelope): Promise<Envelope> {
    const keyId = signed.signature?.keyId ?? "";
    if (!this.keys.resolve(keyId)) {
      // Only the claimed name is read before verification, to know whose key to ask for.
      const claimed = parseEnvelope(signed.payload, signed.payloadType).sender;
      const found = await this.queryRegistry({ agentId: claimed });
      const rec = found.agents.find((a) => a.agentId === claimed);
      if (rec && keyIdFor(rec.publicKey) === keyId && this.keys.keyIdOf(claimed) === undefined) this.keys.learned.pin(claimed, rec.publicKey);
    }
    return openSignedEnvelopeAsync(signed, { keys: this.keys });
  }

  /**
   * The keys this connection holds for agents: pinned, else from the hub's registry (then
   * pinned, as for a message's sender). A few unknown names are asked for one by one, more with
   * one read of the whole registry. Names without a usable key are left out.
   */
  async keysOf(agents: Iterable<string>): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const held = (agent: string) => this.keys.resolve(this.keys.keyIdOf(agent) ?? "");
    const unknown: string[] = [];
    for (const agent of new Set(agents)) {
      const pk = held(agent);
      if (pk) out.set(agent, pk);
      else unknown.push(agent);
    }
    if (!unknown.length) return out;
    const records = unknown.length > 8 ? (await this.queryRegistry({})).agents : (await Promise.all(unknown.map((agentId) => this.queryRegistry({ agentId })))).flatMap((r) => r.agents);
    const wanted = new Set(unknown);
    for (const rec of records) {
      if (!wanted.has(rec.agentId) || out.has(rec.agentId) || !rec.publicKey.length) continue;
      try {
        if (this.keys.keyIdOf(rec.agentId) === undefined) this.keys.learned.pin(rec.agentId, rec.publicKey);
      } catch {
        continue; // a revoked or malformed key: the name stays unknown
      }
      const pk = held(rec.agentId);
      if (pk) out.set(rec.agentId, pk);
    }
    return out;
  }

  private async dispatch(env: Envelope, verified: boolean): Promise<void> {
    if (verified && this.answer(env, true)) return;
    const kind = env.body?.kind;
    if (!this.admit(env)) return;
    if (this.o.groupCheck && env.recipient?.target.case === "group") {
      // In turn, like everything handed over: a chain fetched here delays later messages, never reorders them.
      try {
        await this.o.groupCheck.check(this, env);
      } catch (e) {
        this.reportDrop(asFleetError(e, ErrorCode.SECURITY_UNAUTHORIZED, "group check"));
        return;
      }
    }
    if (kind?.case === "error" && env.inReplyTo && env.sender === this.peer) {
      // The hub refused a message that did not ask for a receipt.
      this.reportDrop(errorFromBody(kind)!);
    }
    if (kind?.case === "application" && kind.value.mediaType === PING_MEDIA_TYPE && env.type !== MessageType.RESPONSE) {
      void this.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, sign: verified, body: kind }).catch(() => {});
      return;
    }
    if (kind?.case === "bottle") {
      // Hand over the origin's letter, verified end to end, rather than the hub's carrier;
      // every relay's postmark (the hub's included) must verify too.
      try {
        env = await openDeliveredBottle(kind.value, this.keys, (s) => this.openSigned(s));
        verified = true;
      } catch (e) {
        this.reportDrop(asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "bottle letter"));
        return;
      }
    }
    for (const h of [...this.handlers]) {
      try {
        h(env, { verified });
      } catch {
        // a handler's failure is its own
      }
    }
    this.readers.push(env, { verified });
  }

  /**
   * The replay rules (spec/signing.md) before anything is handed over. A replay (604) is
   * acknowledged again and dropped; a refusal for time (605, 602, 709) is acknowledged too,
   * so the hub forgets a row that can never be accepted; a full window (804) is not, so the
   * hub keeps the message and offers it again later. Never "deliver anyway".
   */
  private admit(env: Envelope): boolean {
    const key = Deduper.key(env.sender, env.id);
    let refused: FleetError | undefined;
    try {
      if (this.dedupe?.lookup(key) !== undefined) throw new FleetError(ErrorCode.SECURITY_REPLAY, `replayed message ${env.id} from ${env.sender}`);
      this.replay.check(env);
      this.dedupe?.remember(key);
    } catch (e) {
      refused = asFleetError(e, ErrorCode.SECURITY_REPLAY, "replay");
    }
    if (env.requiresAck && refused?.code !== ErrorCode.DELIVERY_BUSY) this.ackToHub(env.id);
    if (refused && refused.code !== ErrorCode.SECURITY_REPLAY) this.reportDrop(refused);
    return !refused;
  }

  /** Tells the hub a stored message arrived, so it stops redelivering it. */
  private ackToHub(messageId: string): void {
    // Not connected: the hub redelivers after the reconnection, and the Deduper drops the copy.
    if (this.closed || this.board.status !== "connected") return;
    const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, body: receiptBody(messageId, ReceiptStatus.ACCEPTED), ttlSeconds: 60 }, this.agent, this.clock);
    this.link.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: this.link.session.seal(env) } })));
  }

  /** Problems with input that never reached a handler; visible to tools via onDrop. */
  private readonly dropHandlers = new Set<(e: FleetError) => void>();
  onDrop(handler: (e: FleetError) => void): () => void {
    this.dropHandlers.add(handler);
    return () => this.dropHandlers.delete(handler);
  }
  private reportDrop(e: FleetError): void {
    for (const h of this.dropHandlers) h(e);
  }

  // ---- liveness and teardown ----

  private armHeartbeat(): void {
    this.heartbeat = this.clock.setTimer(() => {
      if (this.closed) return;
      if (this.board.status === "connected") {
        this.heartbeatSeq++;
        try {
          const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, body: { case: "heartbeat", value: create(HeartbeatSchema, { sequence: this.heartbeatSeq }) }, ttlSeconds: 60 }, this.agent, this.clock);
          this.link.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: this.link.session.seal(env) } })));
        } catch {
          // closing
        }
      }
      this.armHeartbeat();
    }, this.link.heartbeatMs);
  }

  // ---- reconnection ----

  /**
   * The link closed. After close(), after an error frame from the hub (a decision, not an
   * accident: 603, 601, 809, a newer connection for this agent...) or without a redial, the
   * connection is over. Otherwise: disconnected, then reconnecting with jittered backoff.
   */
  private linkLost(link: Relink): void {
    if (link !== this.link || this.closed) return;
    this.board.set("disconnected");
    this.tracker.pause();
    // An error frame that arrived just before the close is still being verified: give it a moment.
    const settled = Promise.race([this.chain, new Promise((r) => setTimeout(r, 100))]);
    void settled.then(() => {
      if (this.closed) return;
      if (this.closing || !this.policy || this.lastError) return this.finish();
      this.scheduleReconnect(1);
    });
  }

  private scheduleReconnect(attempt: number, error?: FleetError): void {
    const policy = this.policy!;
    if (attempt > policy.maxAttempts) {
      this.lastError = new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `gave up reconnecting to ${this.peer} after ${policy.maxAttempts} attempts${error ? `: ${error.message}` : ""}`);
      return this.finish();
    }
    this.reconnectTimer = this.clock.setTimer(() => {
      this.reconnectTimer = undefined;
      void this.reconnectOnce(attempt);
    }, backoffDelay(attempt, policy));
  }

  private async reconnectOnce(attempt: number): Promise<void> {
    if (this.closed || this.closing) return;
    this.board.set("reconnecting", attempt);
    let link: Relink;
    try {
      link = await this.o.redial!();
    } catch (e) {
      const error = asFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "reconnect");
      if (this.closed || this.closing) return;
      // A hub that refuses who we are (key mismatch, token, auth) will not change its mind.
      if (isFinalRefusal(error)) {
        this.lastError = error;
        return this.finish();
      }
      this.board.set("disconnected", attempt, error);
      return this.scheduleReconnect(attempt + 1, error);
    }
    if (this.closed || this.closing) {
      link.conn.close();
      return;
    }
    if (link.peer !== this.peer || !sameBytes(link.peerPublicKey, this.link.peerPublicKey)) {
      link.conn.close();
      this.lastError = new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `reconnected to ${link.peer} with another key than ${this.peer} had: refusing it`);
      return this.finish();
    }
    this.link = link;
    this.attach(link);
    this.board.set("connected");
    try {
      await this.o.onReconnected?.(this);
    } catch (e) {
      this.reportDrop(asFleetError(e, ErrorCode.REGISTRY_SYNC_FAILED, "re-joining after reconnection"));
    }
    if (this.link !== link || this.closed) return;
    // Held sends first, in call order; then every acknowledged send still without a receipt (same id).
    const held = this.held;
    this.held = [];
    const firstTime = new Set(held.map((h) => h.id).filter((id): id is string => id !== undefined));
    for (const h of held) this.write(h.packet, h.id).then(h.resolve, h.reject);
    this.tracker.resume(firstTime);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== undefined) this.clock.clearTimer(this.heartbeat);
    if (this.reconnectTimer !== undefined) this.clock.clearTimer(this.reconnectTimer);
    const why = this.lastError ?? new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed");
    for (const h of this.held.splice(0)) h.reject(new FleetError(why.code, `not sent: ${why.message}`));
    this.tracker.cancelAll(why.code);
    for (const [id, w] of this.waiters) {
      this.clock.clearTimer(w.timer);
      w.reject(new FleetError(why.code, `no answer to ${id}: ${why.message}`));
    }
    this.waiters.clear();
    this.readers.close();
    this.board.set("closed", 0, this.lastError);
    for (const h of this.closeHandlers) h(this.lastError);
  }
}

/** Refusals a retry cannot change: who we are, or what we may do. */
function isFinalRefusal(e: FleetError): boolean {
  return (e.code >= 600 && e.code < 700) || e.code === ErrorCode.HANDSHAKE_AUTH_FAILED || e.code === ErrorCode.HANDSHAKE_VERSION_MISMATCH;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
