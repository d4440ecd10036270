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
import { replayGuardFor } from "./replay.js";

export interface MessageMeta {
  /** True when the sender's Ed25519 signature was verified here, end to end. False: only the hub's session vouches for it. */
  verified: boolean;
}

export type MessageHandler = (env: Envelope, meta: MessageMeta) => void;

export interface FleetConnection {
  readonly agent: string;
  /** Resolves with the hub's ACCEPTED receipt when draft.requiresAck, else once written. */
  send(draft: EnvelopeDraft): Promise<Receipt | undefined>;
  onMessage(handler: MessageHandler): () => void;
  /** Sends a REQUEST (or the draft's type) and resolves with the first envelope answering it. */
  request(draft: EnvelopeDraft, timeoutMs?: number): Promise<Envelope>;
  close(): Promise<void>;
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
  /**
   * Replay rules on everything received (client/replay.ts): skew, ttl, seen ids. Default: one
   * guard per identity in this process (kept across reconnects); give one over a durable
   * ReplayStore to keep it across restarts.
   */
  replay?: ReplayGuard;
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
  /** The error frame the hub sent before closing, if any. */
  lastError?: FleetError;

  constructor(private readonly o: ConnectionOptions) {
    this.agent = o.identity.agent;
    this.peer = o.peer;
    this.clock = o.clock ?? systemClock;
    // A PinnedKeys given by the caller (e.g. the CLI's peers.json) also keeps what is learned.
    const learned = o.keys instanceof PinnedKeys ? o.keys : new PinnedKeys(undefined, () => this.clock.now());
    learned.pin(o.peer, o.peerPublicKey);
    this.keys = new LayeredKeys(learned, o.keys instanceof PinnedKeys ? undefined : o.keys);
    this.tracker = new ReceiptTracker({ clock: this.clock, timeoutMs: o.receiptTimeoutMs ?? 3_000, attempts: o.receiptAttempts ?? 3 });
    this.dedupe = o.dedupe;
    this.replay = o.replay ?? replayGuardFor(o.identity, this.clock);
    o.conn.onFrame((body) => this.receive(body));
    o.conn.onClose(() => this.finish());
    this.armHeartbeat();
  }

  // ---- sending ----

  async send(draft: EnvelopeDraft): Promise<Receipt | undefined> {
    if (this.closed) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection is closed");
    const env = buildEnvelope(draft, this.agent, this.clock);
    return this.sendEnvelope(env, draft.sign !== false);
  }

  /** Sends a built envelope; with requires_ack, retries the same id until the hub's receipt. */
  async sendEnvelope(env: Envelope, sign = true): Promise<Receipt | undefined> {
    // Signing starts now (WebCrypto signs several in parallel); the write keeps call order.
    const signed = sign ? signEnvelopeAsync(env, this.o.identity).then((s) => encodePacket(create(PacketSchema, { kind: { case: "signed", value: s } }))) : undefined;
    signed?.catch(() => {}); // reported through the write below
    const write = () => this.write(signed ?? (() => encodePacket(create(PacketSchema, { kind: { case: "session", value: this.o.session.seal(env) } }))));
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
    return done;
  }

  /**
   * Writes packets in call order. A signed packet may still be being signed, so it waits in
   * line; a session packet is sealed only when its turn comes, so sequence numbers go out in
   * order. With nothing waiting, a session packet is written at once.
   */
  private write(packet: Promise<Uint8Array> | (() => Uint8Array)): Promise<void> {
    if (this.queuedWrites === 0 && typeof packet === "function") {
      try {
        this.o.conn.send(packet());
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    this.queuedWrites++;
    const done = this.writes.then(async () => this.o.conn.send(typeof packet === "function" ? packet() : await packet));
    this.writes = done.catch(() => {}).then(() => void this.queuedWrites--);
    return done;
  }

  /** Pre-signs an envelope into Packet bytes (benchmarks and tools that send the same bytes many ways). */
  signPacket(draft: EnvelopeDraft): Uint8Array {
    const env = buildEnvelope(draft, this.agent, this.clock);
    return encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, this.o.identity) } }));
  }

  /** Writes already-built Packet bytes as they are (after any send still being signed). */
  sendRaw(packet: Uint8Array): void {
    if (this.queuedWrites === 0) this.o.conn.send(packet);
    else this.write(() => packet).catch(() => {});
  }

  get bufferedAmount(): number {
    return this.o.conn.bufferedAmount;
  }

  request(draft: EnvelopeDraft, timeoutMs = 10_000): Promise<Envelope> {
    const env = buildEnvelope({ ...draft, type: draft.type ?? MessageType.REQUEST }, this.agent, this.clock);
    return new Promise<Envelope>((resolve, reject) => {
      const timer = this.clock.setTimer(() => {
        this.waiters.delete(env.id);
        reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `no answer to ${env.id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(env.id, { resolve, reject, timer });
      this.sendEnvelope(env, draft.sign !== false).catch((e) => {
        this.clock.clearTimer(timer);
        this.waiters.delete(env.id);
        reject(asFleetError(e, ErrorCode.INTERNAL_ERROR, "request"));
      });
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

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    await this.writes;
    this.o.conn.close();
    this.finish();
  }

  // ---- receiving ----

  /**
   * Session frames are opened at once, in arrival order (their sequence numbers demand it),
   * and answers to waiting requests resolve immediately: a signed message whose sender key
   * is being looked up must not block the very answer it waits for. Everything else is
   * handed to the application strictly in order.
   */
  private receive(body: Uint8Array): void {
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
      opened = this.o.session.openAll(packet.kind.value);
    } catch (e) {
      // Unverifiable input is dropped here (never handed to the application).
      this.reportDrop(asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "incoming"));
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

  private async dispatch(env: Envelope, verified: boolean): Promise<void> {
    if (verified && this.answer(env, true)) return;
    const kind = env.body?.kind;
    if (!this.admit(env)) return;
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
    if (this.closed) return;
    const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, body: receiptBody(messageId, ReceiptStatus.ACCEPTED), ttlSeconds: 60 }, this.agent, this.clock);
    this.o.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: this.o.session.seal(env) } })));
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
      this.heartbeatSeq++;
      try {
        const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, body: { case: "heartbeat", value: create(HeartbeatSchema, { sequence: this.heartbeatSeq }) }, ttlSeconds: 60 }, this.agent, this.clock);
        this.o.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: this.o.session.seal(env) } })));
      } catch {
        // closing
      }
      this.armHeartbeat();
    }, this.o.heartbeatMs);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== undefined) this.clock.clearTimer(this.heartbeat);
    const why = this.lastError ?? new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed");
    this.tracker.cancelAll(why.code);
    for (const [id, w] of this.waiters) {
      this.clock.clearTimer(w.timer);
      w.reject(new FleetError(why.code, `no answer to ${id}: ${why.message}`));
    }
    this.waiters.clear();
    for (const h of this.closeHandlers) h(this.lastError);
  }
}
