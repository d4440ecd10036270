// An agent's FleetConnection over NATS: no hub, every peer verifies end to end.
// Direct messages go through the agent's durable JetStream inbox (stored, deduped by
// envelope id, ACCEPTED once the PubAck arrives, PROCESSED receipts from the recipient on
// its sender's receipts subject); broadcast, group, capability, presence and discovery
// are live core subjects. The subjects come from subjects.ts (the AsyncAPI document).
// Key rotations are stored in FLEET_KEYS and applied by every agent (rotation.ts). Group
// chains are stored in FLEET_GROUPS and folded by every agent that follows them (groups.ts):
// a group with a chain is received only while this agent is a member, and each group:<name>
// message is taken only from a sender the chain allows.
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { JsMsg, Msg } from "nats";
import type { Bottle } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type Receipt, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { RegistryQuerySchema, type RegistryQueryResult } from "../../generated/proto/fleet/v1/registry_pb.js";
import type { Packet, SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { PING_MEDIA_TYPE } from "../client/bodies.js";
import { abortError, type CallOptions, requestOptions, type RequestOptions, withSignal } from "../client/call-options.js";
import type { FleetConnection, MessageHandler } from "../client/connection.js";
import { MessageReaders, type MessagesOptions, type ReceivedMessage } from "../client/message-stream.js";
import { type ConnectionStatus, StatusBoard, type StatusEvent } from "../client/status.js";
import { buildEnvelope, type EnvelopeDraft } from "../client/draft.js";
import { systemClock, type Clock } from "../clock.js";
import { openSignedEnvelope, PinnedKeys, signEnvelope, type Identity, type PinnedKey, type ReplayStore } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import type { GroupChainStore } from "../client/groups.js";
import { checkSend, groupStateJson, isMember, type GroupState, type GroupStateJson } from "../protocol/groups/index.js";
import { Deduper } from "../protocol/dedupe.js";
import { makeReceipt, signReceipt } from "../protocol/receipts.js";
import { collectBottle, dropBottle, type BottleHost } from "./bottles.js";
import { NatsCarrier, type CarrierOptions } from "./carrier.js";
import { NatsDispatcher } from "./dispatch.js";
import { NatsGroupKeys } from "./group-keys.js";
import { NatsGroupChains } from "./groups.js";
import { deliveryStatus, type DeliveryStatus } from "./jetstream.js";
import type { TrustPolicy } from "./keys.js";
import { NatsMembership, type MembershipOptions } from "./membership.js";
import { readRegistryPages } from "../protocol/registry-answer.js";
import { queryRegistry, type RegistryQueryInput } from "./registry-query.js";
import { addressedHere, describe, packetOf, routeOf } from "./routes.js";
import { NatsRotations, storeRevocation, storeRotation } from "./rotation.js";
import { NatsSessions } from "./sessions.js";
import { parseSubject, subjects } from "./subjects.js";
import { SignedVerifier } from "./verify.js";
import { announcedPublicKey, toWire } from "./wire.js";

export interface NatsConnectOptions {
  /** nats://127.0.0.1:4222 (or several). */
  url: string | string[];
  identity: Identity;
  /** Pins of known agents; default: a fresh in-memory PinnedKeys. */
  keys?: PinnedKeys;
  /** "tofu" (default) pins a first-seen sender's announced key; "pinned" accepts only known keys. */
  trust?: TrustPolicy;
  clock?: Clock;
  /**
   * Groups to receive (fleet.v1.group.{group}). Each one's chain is followed (FLEET_GROUPS): a
   * group with a chain is subscribed only while this agent is a member of it.
   */
  groups?: string[];
  /** Capabilities to receive capability-addressed messages for. */
  capabilities?: string[];
  /** Sign envelopes in their JSON form and carry them as envelope+json (default: binary Packet). */
  json?: boolean;
  streams?: CarrierOptions["streams"];
  /**
   * Join the fleet registry (default true): a replica with this agent's record, synced over
   * NATS, presence heartbeats, and registry queries answered once settled (membership.ts).
   */
  registry?: boolean | Omit<MembershipOptions, "capabilities" | "groups" | "clock">;
  /** Pairwise handshake: wait per attempt (default 10 s) and retries (default 3). */
  handshakeTimeoutMs?: number;
  handshakeRetries?: number;
  /**
   * Session sends to one peer within a tick share a SessionEnvelope (one MAC, one NATS message):
   * at most this many envelopes (default 256; 1 sends each alone) and bytes (default 32 KiB).
   */
  sessionBatch?: { envelopes?: number; bytes?: number };
  /** A durable store for seen ids (runtime/node/replay-store.ts): replay protection across restarts. */
  replayStore?: ReplayStore;
  /** Called for every message refused on arrival (bad signature, replay, garbage ...). */
  onReject?: (error: FleetError, subject: string) => void;
  /** Aborts connecting (903). */
  signal?: AbortSignal;
  /** Status changes from the first "connecting" on. */
  onStatus?: (e: StatusEvent) => void;
}

export class NatsFleetConnection implements FleetConnection, GroupChainStore {
  readonly agent: string;
  private readonly stops: (() => void | Promise<void>)[] = [];
  private readonly verifier: SignedVerifier;
  private readonly dispatcher: NatsDispatcher;
  private readonly sessions: NatsSessions;
  private readonly rotations: NatsRotations;
  private readonly groupKeys: NatsGroupKeys;
  /** Group chains this agent appends to, reads and follows (groups.ts). */
  readonly groupChains: NatsGroupChains;
  /** Subscriptions to the groups of opts.groups, by group (one each at most). */
  private readonly groupSubs = new Map<string, () => void>();
  /** The identity everything is signed with; replaced by rotateKey. */
  private current: Identity;
  /** The rotation in progress: rotations run one after another. */
  private rotating: Promise<unknown> = Promise.resolve();
  /** The key id rotateKey is moving to, while it runs. */
  private rotatingTo?: string;
  private closed = false;
  private draining = false;
  private readonly board = new StatusBoard("connecting");
  // A messages() reader is an onMessage handler only while one reads: durable messages that
  // arrive while nobody listens stay stored until someone does (dispatch.ts).
  private stopReading: (() => void) | undefined;
  private readonly readers = new MessageReaders((e) => this.opts.onReject?.(e, "messages()"), {
    attach: () => (this.stopReading = this.dispatcher.onMessage((env, meta) => this.readers.push(env, meta))),
    detach: () => this.stopReading?.(),
  });
  /** Every send under way (drain waits for them). */
  private readonly inflight = new Set<Promise<unknown>>();

  private constructor(
    readonly carrier: NatsCarrier,
    private readonly opts: NatsConnectOptions,
    readonly keys: PinnedKeys,
    private readonly clock: Clock,
  ) {
    this.agent = opts.identity.agent;
    this.current = opts.identity;
    // Read at use, never captured: rotateKey replaces it for every part of the connection.
    const conn = this;
    this.verifier = new SignedVerifier(keys, opts.trust ?? "tofu", clock, opts.replayStore);
    this.dispatcher = new NatsDispatcher({
      clock,
      sendReceipt: (receipt, original) => this.sendReceipt(receipt, original),
      // Pings are answered by the connection itself, as on the hub.
      answerPing: (env) => this.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, body: env.body!.kind }),
    });
    this.sessions = new NatsSessions({
      get identity() {
        return conn.current;
      },
      keys,
      clock,
      carrier,
      deliver: (env) => this.deliverSession(env),
      reject: (e, subject) => this.opts.onReject?.(e, subject),
      timeoutMs: opts.handshakeTimeoutMs,
      retries: opts.handshakeRetries,
      batchEnvelopes: opts.sessionBatch?.envelopes,
      batchBytes: opts.sessionBatch?.bytes,
    });
    this.rotations = new NatsRotations({
      keys,
      trust: opts.trust ?? "tofu",
      clock,
      carrier,
      rotated: (pin, retired) => {
        this.retireGroupKey(() => this.groupKeys.retire(retired, pin.keyId));
        this.rotated(pin);
      },
      revoked: (r) => this.sessions.forget(r.agent),
      reject: (e, subject) => this.opts.onReject?.(e, subject),
    });
    this.groupKeys = new NatsGroupKeys(keys, opts.trust ?? "tofu");
    this.groupChains = new NatsGroupChains({
      carrier,
      keys: this.groupKeys,
      get identity() {
        return conn.current;
      },
      clock,
      reject: (e, subject) => this.opts.onReject?.(e, subject),
      changed: (group) => this.syncGroupSubscription(group),
      catchUpKeys: () => this.rotations.catchUp(),
    });
  }

  private retireGroupKey(retire: () => void): void {
    try {
      retire();
    } catch (e) {
      this.opts.onReject?.(asFleetError(e, ErrorCode.INTERNAL_ERROR, "group keys"), subjects.keys(this.agent));
    }
  }

  static async connect(opts: NatsConnectOptions): Promise<NatsFleetConnection> {
    opts.onStatus?.({ status: "connecting", attempt: 0 });
    const carrier = await withSignal(NatsCarrier.connect({ servers: opts.url, name: opts.identity.agent, streams: opts.streams }), opts.signal, "connect");
    const keys = opts.keys ?? new PinnedKeys();
    // Our own name is bound to our own key before anyone can claim it.
    keys.pin(opts.identity.agent, opts.identity.publicKey);
    const conn = new NatsFleetConnection(carrier, opts, keys, opts.clock ?? systemClock);
    try {
      if (opts.signal?.aborted) throw abortError(opts.signal, "connect");
      await withSignal(conn.start(), opts.signal, "connect");
    } catch (e) {
      await carrier.close();
      throw e;
    }
    if (opts.onStatus) conn.board.on(opts.onStatus);
    conn.board.set("connected");
    void conn.watchStatus();
    return conn;
  }

  /**
   * nats.js reconnects by itself (forever, every 250 ms: carrier.ts) and holds publishes
   * meanwhile in its own bounded buffer; durable sends retry with the same Nats-Msg-Id
   * until stored. Its status events become ours, the same five words as on a hub.
   */
  private async watchStatus(): Promise<void> {
    let attempt = 0;
    for await (const s of this.carrier.nc.status()) {
      if (this.closed) break;
      if (s.type === "disconnect") this.board.set("disconnected", attempt);
      else if (s.type === "reconnecting") this.board.set("reconnecting", ++attempt);
      else if (s.type === "reconnect") {
        attempt = 0;
        this.board.set("connected");
      }
    }
    void this.carrier.nc.closed().then(() => {
      if (!this.closed) void this.close();
    });
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

  /** Every message handed to onMessage, as a bounded async iterator (see FleetConnection.messages). */
  messages(options: MessagesOptions = {}): AsyncIterableIterator<ReceivedMessage> {
    return this.readers.open(options);
  }

  private async start(): Promise<void> {
    const reject = (e: FleetError, subject: string) => this.opts.onReject?.(e, subject);
    // Every stored rotation is applied before anything else is verified.
    this.stops.push(() => this.rotations.stop());
    await this.rotations.start();
    const live = (p: Packet, m: Msg | JsMsg) => this.arrive(p, m, undefined);
    this.stops.push(this.carrier.subscribe(subjects.broadcast(), live, reject));
    this.stops.push(this.carrier.subscribe(subjects.agentReceipts(this.agent), live, reject));
    // Each group's chain is read before its subject is subscribed: a member receives, others do not.
    this.stops.push(() => this.groupChains.stop());
    this.stops.push(() => {
      for (const stop of this.groupSubs.values()) stop();
      this.groupSubs.clear();
    });
    for (const g of new Set(this.opts.groups ?? [])) {
      await this.groupChains.follow(g);
      this.syncGroupSubscription(g);
    }
    for (const c of this.opts.capabilities ?? []) this.stops.push(this.carrier.subscribe(subjects.capability(c), live, reject));
    this.stops.push(
      await this.carrier.consumeDurable("inbox", this.agent, (p, m) => this.arrive(p, m, (m as JsMsg).info.timestampNanos / 1e6), reject),
    );
    const conn = this;
    const bottles: BottleHost = {
      get identity() {
        return conn.current;
      },
      keys: this.keys,
      clock: this.clock,
      carrier: this.carrier,
      delivered: new Deduper({ clock: this.clock }),
      world: {
        isOnline: (agent) => agent === this.agent || (this.membership?.isOnline(agent) ?? false),
        hasCapability: (name) =>
          this.membership ? this.membership.replica.query(create(RegistryQuerySchema, { capability: name, onlineOnly: true }), (a) => this.membership!.isOnline(a)).agents.length > 0 : false,
      },
      deliver: (letter) => this.dispatcher.dispatch(letter, true),
    };
    this.stops.push(await this.carrier.consumeDurable("bottles", this.agent, (p, m) => collectBottle(bottles, this.verify(p, m, (m as JsMsg).info.timestampNanos / 1e6, false)), reject));
    await this.carrier.flush();
    if (this.opts.registry !== false) {
      const extra = typeof this.opts.registry === "object" ? this.opts.registry : {};
      this.membership = new NatsMembership(this, { ...extra, capabilities: this.opts.capabilities, groups: this.opts.groups, clock: this.clock, onError: (e) => this.opts.onReject?.(e, "registry") });
      this.membership.start();
    }
  }

  /**
   * Subscribes to a group of opts.groups while it has no chain or this agent is a member of its
   * chain; unsubscribes otherwise (kicked, left, or never joined).
   */
  private syncGroupSubscription(group: string): void {
    if (this.closed || !(this.opts.groups ?? []).includes(group)) return;
    const state = this.groupChains.state(group);
    const wanted = !state || isMember(state, this.agent);
    const sub = this.groupSubs.get(group);
    if (wanted && !sub) {
      const live = (p: Packet, m: Msg | JsMsg) => this.arrive(p, m, undefined);
      this.groupSubs.set(group, this.carrier.subscribe(subjects.group(group), live, (e, subject) => this.opts.onReject?.(e, subject)));
    } else if (!wanted && sub) {
      sub();
      this.groupSubs.delete(group);
    }
  }

  /** Appends a signed statement to its group's chain in FLEET_GROUPS; the JSON view of the new state (GroupChainStore). */
  async appendGroupStatement(statement: Uint8Array): Promise<GroupStateJson> {
    return groupStateJson(await this.groupChains.append(statement));
  }

  /** The group's chain, read from FLEET_GROUPS: the statements that verified and folded here (GroupChainStore). */
  groupChain(group: string): Promise<Uint8Array[]> {
    return this.groupChains.chain(group);
  }

  /** Reads and folds a group's chain here (GroupChainStore): its state, undefined without a chain. */
  async foldGroupChain(group: string): Promise<GroupState | undefined> {
    return (await this.groupChains.read(group)).state;
  }

  /** Follows a group's chain (its state kept folded here, its group:<name> messages checked); its state, if it has a chain. */
  followGroup(group: string): Promise<GroupState | undefined> {
    return this.groupChains.follow(group);
  }

  /** A followed group's state as folded here. */
  groupState(group: string): GroupState | undefined {
    return this.groupChains.state(group);
  }

  /** This agent's registry replica and presence view (undefined with registry: false). */
  membership?: NatsMembership;

  /** Verifies a packet and checks it was addressed to the channel it arrived on; throws FleetError to refuse. */
  private verify(packet: Packet, msg: Msg | JsMsg, storedAtMs: number | undefined, remember = true): Envelope {
    if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, "no session with this sender on NATS");
    const env = this.verifier.open(packet.kind.value, announcedPublicKey(msg.headers), storedAtMs, remember);
    const channel = parseSubject(msg.subject);
    if (!channel || !addressedHere(env.recipient, channel, this.agent)) {
      throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `envelope for ${describe(env.recipient)} arrived on ${msg.subject}`, { pointer: "/recipient" });
    }
    return env;
  }

  private async arrive(packet: Packet, msg: Msg | JsMsg, storedAtMs: number | undefined): Promise<void> {
    let env: Envelope;
    try {
      env = this.verify(packet, msg, storedAtMs);
    } catch (e) {
      // Signed by a key other than its sender's pinned one: the sender may have rotated an
      // instant ago (FLEET_KEYS and this subject are delivered independently). Apply what is
      // stored, then judge once more (the refusal came before the seen-id check: no 604).
      // (601 under trust "pinned": the new key is unknown until the rotation is applied.)
      const unknownKey = e instanceof FleetError && (e.code === ErrorCode.SECURITY_KEY_MISMATCH || e.code === ErrorCode.SECURITY_SIGNATURE_INVALID);
      if (!unknownKey || !(await this.rotations.catchUp())) throw e;
      env = this.verify(packet, msg, storedAtMs);
    }
    // Our own broadcasts and group messages come back to us: not news.
    if (env.sender === this.agent && parseSubject(msg.subject)?.channel !== "agentInbox") return;
    // A group with a chain: only from a sender it allows, and only while we are a member (603).
    this.groupChains.check(env, this.agent);
    const kind = env.body?.kind.case;
    if (kind === "hello" || kind === "welcome" || kind === "helloReject" || kind === "handshakeConfirm") {
      return this.sessions.handshake(packet.kind.value as SignedEnvelope, env);
    }
    return this.dispatcher.dispatch(env, storedAtMs !== undefined);
  }

  /** A SessionEnvelope opened by its session: it must be addressed to us. */
  private deliverSession(env: Envelope): Promise<void> {
    const r = env.recipient?.target;
    if (r?.case !== "agent" || r.value !== this.agent) {
      throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `session message for ${describe(env.recipient)}`, { pointer: "/recipient" });
    }
    return this.dispatcher.dispatch(env, false);
  }

  /**
   * Verified envelopes from any Fleet subject (registry sync, presence, discovery ...).
   * With queue, one member of the queue group gets each message.
   */
  listen(subject: string, handler: (env: Envelope, msg: Msg) => void | Promise<void>, queue?: string, options: { self?: boolean } = {}): () => void {
    const stop = this.carrier.subscribe(
      subject,
      (p, m) => {
        const env = this.verify(p, m, undefined);
        if (options.self || env.sender !== this.agent) return handler(env, m as Msg);
      },
      (e, subj) => this.opts.onReject?.(e, subj),
      queue,
    );
    this.stops.push(stop);
    return stop;
  }

  /**
   * Asks whoever serves fleet.v1.registry.query (a NatsRegistrySync replica) and verifies
   * the signed answer; 805 when nobody answers in time.
   */
  queryRegistry(q: RegistryQueryInput = {}, timeoutMs = 5_000): Promise<RegistryQueryResult> {
    return readRegistryPages((page) => this.queryRegistryPage(page, timeoutMs), q);
  }

  /** One registry answer: at most 256 agents, truncated when more matched (spec/registry.md). */
  queryRegistryPage(q: RegistryQueryInput = {}, timeoutMs = 5_000): Promise<RegistryQueryResult> {
    const m = this.membership;
    // Nobody else serves queries: our own replica answers once it has settled.
    const local = m ? async () => (await m.settled, m.replica.query(create(RegistryQuerySchema, q), (a) => m.isOnline(a))) : undefined;
    return queryRegistry({ identity: this.current, clock: this.clock, carrier: this.carrier, verifier: this.verifier }, q, timeoutMs, local);
  }

  /** Signs an envelope and answers a NATS request with it (registry query replies). */
  reply(to: Msg, env: Envelope): void {
    const w = toWire(packetOf(signEnvelope(env, this.current)), { publicKey: this.current.publicKey });
    to.respond(w.data, { headers: w.headers });
  }

  get identity(): Identity {
    return this.current;
  }

  /**
   * Replaces this agent's key: stores a KeyRotation to next (the same envelope the hub
   * takes: to fleet:hub, signed by the current key, proven by next) in FLEET_KEYS and
   * resolves with ACCEPTED once the PubAck says it is stored; nothing changes before that.
   * Then our own pin moves and everything is signed with next and announces its key.
   * Pairwise sessions opened with the old key end: the next session send handshakes anew.
   * Every agent applies the rotation live or, if offline now, when it connects.
   */
  rotateKey(next: Identity): Promise<Receipt> {
    const run = this.rotating.then(async () => {
      if (this.closed) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed");
      this.rotatingTo = next.keyId;
      let stored: Awaited<ReturnType<typeof storeRotation>>;
      try {
        stored = await storeRotation(this.carrier, this.clock, this.current, next);
        // Our own follower may already have applied the stored copy.
        if (this.keys.keyIdOf(this.agent) !== next.keyId) this.keys.applyRotation(openSignedEnvelope(stored.packet.kind.value as SignedEnvelope, { keys: this.keys }));
        const rot = stored.env.body?.kind.case === "keyRotation" ? stored.env.body.kind.value : undefined;
        const at = rot?.effectiveAt ? timestampMs(rot.effectiveAt) : this.clock.now();
        this.retireGroupKey(() => this.groupKeys.retire({ agent: this.agent, publicKey: this.current.publicKey, at }, next.keyId));
        this.current = next;
      } finally {
        this.rotatingTo = undefined;
      }
      this.sessions.close("key rotated");
      this.membership?.rekey(next);
      return makeReceipt(stored.env.id, ReceiptStatus.ACCEPTED, ErrorCode.UNSPECIFIED, stored.detail);
    });
    this.rotating = run.catch(() => {});
    return run;
  }

  /**
   * Revokes this agent's current key (spec/signing.md "Revocation"): stores a KeyRevocation
   * signed by it in FLEET_KEYS and resolves with ACCEPTED once stored. Every agent then
   * unbinds our name and refuses the key (611), live or when it connects; this connection can
   * no longer be trusted by anyone and is closed. The owner recovers by connecting with a new
   * identity (same name): peers trusting on first use pin it as they would a newcomer's;
   * peers with trust "pinned" must be given the new key.
   */
  async revokeKey(effectiveAtMs = this.clock.now(), reason = ""): Promise<Receipt> {
    await this.rotating;
    if (this.closed) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed");
    const stored = await storeRevocation(this.carrier, this.clock, this.current, effectiveAtMs, reason);
    if (this.keys.keyIdOf(this.agent) === this.current.keyId) this.keys.applyRevocation(openSignedEnvelope(stored.packet.kind.value as SignedEnvelope, { keys: this.keys }));
    await this.close();
    return makeReceipt(stored.env.id, ReceiptStatus.ACCEPTED, ErrorCode.UNSPECIFIED, stored.detail);
  }

  /**
   * A peer's binding moved: sessions opened with its old key end (the next send handshakes
   * again). Our own moved away from the key we sign with (rotated elsewhere, and this
   * connection was opened with the old key): everyone will refuse us, so say so.
   */
  private rotated(pin: PinnedKey): void {
    if (pin.agent !== this.agent) return this.sessions.forget(pin.agent);
    if (pin.keyId !== this.current.keyId && pin.keyId !== this.rotatingTo) {
      this.opts.onReject?.(new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${this.agent}'s key was rotated to ${pin.keyId}; what this connection signs with ${this.current.keyId} will be refused`), subjects.keys(this.agent));
    }
  }

  private sendReceipt(receipt: Receipt, original: Envelope): void {
    const signed = signReceipt(receipt, original, this.current, this.clock);
    this.carrier.publish(subjects.agentReceipts(original.sender), packetOf(signed), { publicKey: this.current.publicKey });
  }

  onMessage(handler: MessageHandler): () => void {
    return this.dispatcher.onMessage(handler);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const forget = () => void this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Receipts other agents sent us (PROCESSED, REJECTED ...), with the sender's name. */
  onReceipt(handler: (r: Receipt, from: string) => void): () => void {
    return this.dispatcher.onReceipt(handler);
  }

  /**
   * Builds, signs and publishes. Direct messages are stored durably; with requiresAck resolves
   * with ACCEPTED once stored. sign: false sends to an agent inside a pairwise session (handshake
   * first if needed): HMAC instead of Ed25519, live and not stored; receipts come via onReceipt.
   */
  send(draft: EnvelopeDraft, options: CallOptions = {}): Promise<Receipt | undefined> {
    // Not async: a session send hands back its batch's promise, with no extra promise or tick per message.
    try {
      if (this.closed) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed");
      if (this.draining) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "connection is closing: no new sends");
      if (options.signal?.aborted) throw abortError(options.signal, "send");
      const sent = this.track(this.route(buildEnvelope(draft, this.agent, this.clock), draft.sign !== false));
      // A fired signal stops the wait; a message already handed to NATS may still arrive.
      return options.signal ? withSignal(sent, options.signal, "send") : sent;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sends a built envelope its way; failures reject (it never throws). */
  private route(env: Envelope, sign: boolean): Promise<Receipt | undefined> {
    const body = env.body?.kind;
    if (body?.case === "bottle" && env.recipient?.target.case === "hub") return this.storeBottle(env, body.value);
    if (sign) return this.publishEnvelope(env);
    const to = env.recipient?.target;
    if (to?.case !== "agent") return Promise.reject(new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "session messages go to one agent", { pointer: "/recipient" }));
    return this.sessions.send(to.value, env) as Promise<undefined>;
  }

  /** No hub holds bottles here: JetStream does, for the letter's recipient. */
  private async storeBottle(env: Envelope, bottle: Bottle): Promise<Receipt | undefined> {
    const seq = await dropBottle({ identity: this.current, clock: this.clock, carrier: this.carrier }, bottle);
    return env.requiresAck ? makeReceipt(env.id, ReceiptStatus.ACCEPTED, ErrorCode.UNSPECIFIED, `bottle stored in FLEET_BOTTLES at ${seq}`) : undefined;
  }

  /** Opens (or reuses) the pairwise session with peer; 101/102/103/104 when the handshake fails. */
  async openSession(peer: string): Promise<{ sessionId: string; peer: string }> {
    const live = await this.sessions.open(peer);
    return { sessionId: live.established.sessionId, peer: live.established.peer };
  }

  /** Signs and publishes an envelope built elsewhere (sender must be this agent). */
  async publishEnvelope(env: Envelope): Promise<Receipt | undefined> {
    if (env.sender !== this.agent) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `cannot send as ${env.sender}`, { pointer: "/sender" });
    const signed = signEnvelope(env, this.current, { payloadType: this.opts.json ? "json" : "proto" });
    const packet = packetOf(signed);
    const wire = { json: this.opts.json, publicKey: this.current.publicKey };
    const target = routeOf(env);
    const to = env.recipient?.target;
    const chain = to?.case === "group" ? this.groupChains.state(to.value) : undefined;
    if (chain) checkSend(chain, this.agent);
    if (target.durable) {
      const ack = await this.carrier.publishDurable(target.subject, packet, env.id, wire);
      return env.requiresAck ? makeReceipt(env.id, ReceiptStatus.ACCEPTED, ErrorCode.UNSPECIFIED, `stored in ${ack.stream} at ${ack.seq}${ack.duplicate ? " (duplicate)" : ""}`) : undefined;
    }
    this.carrier.publish(target.subject, packet, wire);
    await this.carrier.flush();
    return undefined;
  }

  /** Sends a REQUEST and resolves with the first envelope whose in_reply_to names it; 805 on timeout. */
  async request(draft: EnvelopeDraft, options?: number | RequestOptions): Promise<Envelope> {
    const { timeoutMs, signal } = requestOptions(options);
    if (signal?.aborted) throw abortError(signal, "request");
    const env = buildEnvelope({ ...draft, type: draft.type ?? MessageType.REQUEST }, this.agent, this.clock);
    if (signal) return withSignal(this.requestEnvelope(env, draft, timeoutMs), signal, "request", () => this.dispatcher.cancel(env.id));
    return this.requestEnvelope(env, draft, timeoutMs);
  }

  private async requestEnvelope(env: Envelope, draft: EnvelopeDraft, timeoutMs: number): Promise<Envelope> {
    const body = env.body?.kind;
    if (env.recipient?.target.case === "hub" && body?.case === "application" && body.value.mediaType === PING_MEDIA_TYPE) return this.hubPing(env, timeoutMs);
    const answer = this.dispatcher.expect(env.id, timeoutMs);
    try {
      await this.track(this.route(env, draft.sign !== false));
    } catch (e) {
      this.dispatcher.cancel(env.id);
      throw e;
    }
    return answer;
  }

  /**
   * There is no hub on NATS: a "fleet:hub" ping is answered here, after a round trip to the
   * server and once our durable inbox has handed over its backlog (what a hub's pong means).
   */
  private async hubPing(env: Envelope, timeoutMs: number): Promise<Envelope> {
    const deadline = Date.now() + timeoutMs;
    try {
      await this.carrier.flush();
      for (;;) {
        const s = await this.delivery(this.agent);
        if (s.pending === 0 && s.unacknowledged === 0) break;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch (e) {
      throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `NATS did not answer within ${timeoutMs} ms`, { cause: e });
    }
    return buildEnvelope({ to: this.agent, type: MessageType.RESPONSE, inReplyTo: env.id, body: env.body!.kind }, this.agent, this.clock);
  }

  /** Delivery tracking for an agent's inbox, from its durable consumer's acks. */
  async delivery(agent: string): Promise<DeliveryStatus> {
    return deliveryStatus(await this.carrier.nc.jetstreamManager(), "inbox", agent);
  }

  /** Refuses new sends, waits for every send under way (stored, when durable), then closes. */
  async drain(): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    while (this.inflight.size && !this.closed) await Promise.allSettled([...this.inflight]);
    await this.carrier.flush().catch(() => {});
    await this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readers.close();
    this.board.set("closed");
    this.dispatcher.close();
    this.sessions.close();
    this.membership?.stop();
    for (const stop of this.stops.splice(0)) await stop();
    await this.carrier.close();
  }
}

export function connectNats(opts: NatsConnectOptions): Promise<NatsFleetConnection> {
  return NatsFleetConnection.connect(opts);
}
