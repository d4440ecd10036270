// Pairwise sessions between agents on NATS, to amortise Ed25519 over many messages:
// the protocol's three-step handshake travels over the two agents' inbox subjects (durable,
// verified like any message), then SessionEnvelopes (HMAC, strict sequence) travel on
// the session subject of their direction (live core NATS, never stored: see subjects.ts).
// Envelopes sent to one peer in the same tick share one SessionEnvelope (an EnvelopeBatch,
// spec/sessions.md): one MAC and one NATS message per burst instead of per envelope, with no
// added delay, since the batch goes out at the end of the tick that filled it.
import { create } from "@bufbuild/protobuf";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, type SessionEnvelope, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock } from "../clock.js";
import { decodeEnvelope, EnvelopeBatchWriter } from "../codec/index.js";
import type { Identity, PinnedKeys, Session } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { HandshakeInitiator, HandshakeResponder, type EstablishedSession, type HandshakeStep } from "../protocol/handshake.js";
import type { NatsCarrier } from "./carrier.js";
import { encodeSessionPacket } from "./session-packet.js";
import { subjects } from "./subjects.js";
import { headers as natsHeaders } from "nats";
import { CONTENT_TYPE, HEADER } from "./wire.js";

export interface SessionHost {
  identity: Identity;
  keys: PinnedKeys;
  clock: Clock;
  carrier: NatsCarrier;
  /** Delivers a session-authenticated envelope (already opened and checked) to the application. */
  deliver(env: Envelope): Promise<void>;
  reject(e: FleetError, subject: string): void;
  /** Handshake timeout per attempt (default 10 s) and retries (default 3). */
  timeoutMs?: number;
  retries?: number;
  /** Most envelopes per SessionEnvelope (default 256; 1 sends each alone). */
  batchEnvelopes?: number;
  /** Most envelope bytes per SessionEnvelope (default 32 KiB, and below the server's max_payload). */
  batchBytes?: number;
}

interface Live {
  established: EstablishedSession;
  /** Where our side publishes. */
  outgoing: string;
  /** Envelopes encoded in this tick and not yet sealed; a pooled writer, only while there are some. */
  batch?: EnvelopeBatchWriter;
  /** The senders of the envelopes in batch wait on this; undefined while batch is empty. */
  outbox?: Outbox;
}

interface Outbox {
  /** Settled when the batch is published or fails. */
  done: Promise<void>;
  settle(error?: Error): void;
}

function newOutbox(): Outbox {
  const out = {} as Outbox;
  out.done = new Promise<void>((resolve, reject) => {
    out.settle = (error) => (error ? reject(error) : resolve());
  });
  return out;
}

const DEFAULT_BATCH_ENVELOPES = 256;
const DEFAULT_BATCH_BYTES = 32 * 1024;
/** Batch writers kept for reuse across sessions (each may have grown to a full batch). */
const SPARE_WRITERS = 4;
/** Room for the SessionEnvelope around a batch and the NATS headers. */
const BATCH_HEADROOM = 4 * 1024;

/** Session packets that arrive before the Confirm is processed (the two travel different paths). */
const EARLY_LIMIT = 1_024;

export class NatsSessions {
  private readonly live = new Map<string, Live>();
  private readonly opening = new Map<string, Promise<Live>>();
  private readonly initiators = new Map<string, { machine: HandshakeInitiator; done: (l: Live) => void; fail: (e: FleetError) => void }>();
  private readonly responders = new Map<string, { machine: HandshakeResponder; early: SessionEnvelope[]; stop: () => void; session?: Session }>();
  /** Each session subscription's stop, with the peer it is shared with. */
  private readonly subscriptions = new Map<() => void, string>();
  private readonly headers = natsHeaders();
  private readonly batchEnvelopes: number;
  private readonly spareWriters: EnvelopeBatchWriter[] = [];
  private readonly batchBytes: number;

  constructor(private readonly host: SessionHost) {
    this.headers.set(HEADER.contentType, CONTENT_TYPE.packetProto);
    this.batchEnvelopes = Math.max(1, host.batchEnvelopes ?? DEFAULT_BATCH_ENVELOPES);
    const maxPayload = host.carrier.nc.info?.max_payload ?? Infinity;
    this.batchBytes = Math.max(1, Math.min(host.batchBytes ?? DEFAULT_BATCH_BYTES, maxPayload - BATCH_HEADROOM));
  }

  /** The established session with peer, handshaking first when there is none. */
  open(peer: string): Promise<Live> {
    const existing = this.live.get(peer);
    if (existing) return Promise.resolve(existing);
    let pending = this.opening.get(peer);
    if (!pending) {
      pending = this.initiate(peer).finally(() => this.opening.delete(peer));
      this.opening.set(peer, pending);
    }
    return pending;
  }

  /** True when a session with peer is up. */
  has(peer: string): boolean {
    return this.live.has(peer);
  }

  /**
   * Sends one envelope in the session with its recipient (handshaking first if needed). The
   * envelope is encoded, and so validated, at once: a bad one fails its own send. It is then
   * batched with whatever else goes to that peer in this tick; the promise settles when its
   * batch is published (at the end of the tick, or as soon as the batch is full).
   */
  send(peer: string, env: Envelope, opts: { encrypt?: boolean } = {}): Promise<void> {
    const live = this.live.get(peer);
    if (!live) return this.open(peer).then((l) => this.post(l, env, opts));
    try {
      return this.post(live, env, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private post(live: Live, env: Envelope, opts: { encrypt?: boolean }): Promise<void> {
    if (opts.encrypt) {
      // An encrypted body's nonce is its message's sequence: it travels alone, after what is queued.
      this.flush(live);
      this.publish(live, live.established.session.seal(env, opts));
      return Promise.resolve();
    }
    // Encoding validates: a bad envelope throws here and fails only its own send.
    const batch = live.batch ?? this.takeWriter();
    let added: boolean;
    try {
      added = batch.addEnvelope(env, this.batchBytes);
    } catch (e) {
      if (batch !== live.batch) this.giveWriter(batch);
      throw e;
    }
    live.batch = batch;
    if (!added) {
      this.flush(live); // full: what is queued goes first, then this envelope starts the next batch
      (live.batch = this.takeWriter()).addEnvelope(env);
    }
    let out = live.outbox;
    if (!out) {
      const fresh = (out = live.outbox = newOutbox());
      queueMicrotask(() => {
        if (live.outbox === fresh) this.flush(live);
      });
    }
    const done = out.done;
    if (live.batch!.count >= this.batchEnvelopes) this.flush(live);
    return done;
  }

  /** Seals and publishes what is queued for this session, settling its senders' promises. */
  private flush(live: Live): void {
    const out = live.outbox;
    const batch = live.batch;
    if (!out || !batch) return;
    live.outbox = undefined;
    live.batch = undefined;
    try {
      // The sealed payload is a view into the writer: encoded into the packet before the writer is reused.
      this.publish(live, live.established.session.sealBatch(batch));
      out.settle();
    } catch (e) {
      out.settle(asFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "session send"));
    } finally {
      this.giveWriter(batch);
    }
  }

  private takeWriter(): EnvelopeBatchWriter {
    return this.spareWriters.pop() ?? new EnvelopeBatchWriter();
  }

  private giveWriter(w: EnvelopeBatchWriter): void {
    w.reset();
    if (this.spareWriters.length < SPARE_WRITERS) this.spareWriters.push(w);
  }

  private publish(live: Live, se: SessionEnvelope): void {
    this.host.carrier.publishBytes(live.outgoing, encodeSessionPacket(se), this.headers);
  }

  /** A verified handshake envelope from our inbox (the state machines verify it again themselves). */
  async handshake(signed: SignedEnvelope, env: Envelope): Promise<void> {
    const kind = env.body?.kind.case;
    if (kind === "hello") return this.onHello(signed, env.sender);
    if (kind === "welcome" || kind === "helloReject") {
      const i = this.initiators.get(env.sender);
      if (!i) return; // an answer to an attempt we no longer wait for
      await this.step(env.sender, i.machine.receive(signed), i);
      return;
    }
    if (kind === "handshakeConfirm") {
      const r = this.responders.get(env.sender);
      if (!r) return;
      const step = r.machine.receive(signed);
      if (step.error) throw step.error;
      if (step.established) this.established(env.sender, step.established, "responder", r);
    }
  }

  private async initiate(peer: string): Promise<Live> {
    const h = this.host;
    const machine = new HandshakeInitiator({ identity: h.identity, keys: h.keys, clock: h.clock, responder: peer, timeoutMs: h.timeoutMs, retries: h.retries });
    return new Promise<Live>((resolve, reject) => {
      const entry = {
        machine,
        done: (l: Live) => {
          this.initiators.delete(peer);
          resolve(l);
        },
        fail: (e: FleetError) => {
          this.initiators.delete(peer);
          machine.cancel();
          reject(e);
        },
      };
      this.initiators.set(peer, entry);
      machine.onTimeout((step) => void this.step(peer, step, entry));
      this.publishHandshake(peer, machine.start()).catch(entry.fail);
    });
  }

  private async step(peer: string, step: HandshakeStep, i: { machine: HandshakeInitiator; done: (l: Live) => void; fail: (e: FleetError) => void }): Promise<void> {
    // Listen on the responder's direction before the Confirm goes out: its first session
    // message carries its Finished (key confirmation), and the initiator accepts nothing before it.
    const est = step.established;
    const stop = est ? this.subscribeSession(peer, est.sessionId, "responder", () => est.session) : undefined;
    try {
      if (step.send) await this.publishHandshake(peer, step.send);
    } catch (e) {
      stop?.();
      return i.fail(asFleetError(e, ErrorCode.HANDSHAKE_TIMEOUT, "handshake"));
    }
    if (est) return i.done(this.established(peer, est, "initiator", undefined, true));
    if (!step.error) return;
    // A failed machine (reject, timeout after the last retry) ends the attempt; ignored input does not.
    if (i.machine.state === "failed") i.fail(step.error);
    else this.host.reject(step.error, subjects.agentInbox(this.host.identity.agent));
  }

  private async onHello(signed: SignedEnvelope, peer: string): Promise<void> {
    const h = this.host;
    this.responders.get(peer)?.stop();
    const machine = new HandshakeResponder({ identity: h.identity, keys: h.keys, clock: h.clock, timeoutMs: h.timeoutMs });
    const step = machine.receive(signed);
    if (!step.send) throw step.error ?? new FleetError(ErrorCode.HANDSHAKE_REJECTED, "hello refused");
    if (step.error) {
      await this.publishHandshake(peer, step.send); // the HelloReject
      throw step.error;
    }
    // Listen on the initiator's direction now: its first session messages may beat the Confirm.
    const welcome = decodeEnvelope(step.send.payload).body?.kind;
    const sessionId = welcome?.case === "welcome" ? welcome.value.sessionId : "";
    const entry = { machine, early: [] as SessionEnvelope[], stop: () => {}, session: undefined as Session | undefined };
    entry.stop = this.subscribeSession(peer, sessionId, "initiator", (se) => {
      if (entry.session) return entry.session;
      if (entry.early.length < EARLY_LIMIT) entry.early.push(se);
      return undefined;
    });
    machine.onTimeout((t) => {
      entry.stop();
      if (this.responders.get(peer) === entry) this.responders.delete(peer);
      if (t.error) h.reject(t.error, subjects.agentInbox(h.identity.agent));
    });
    this.responders.set(peer, entry);
    await this.publishHandshake(peer, step.send);
  }

  private established(peer: string, est: EstablishedSession, role: "initiator" | "responder", r?: { early: SessionEnvelope[]; stop: () => void; session?: Session }, subscribed = false): Live {
    const live: Live = { established: est, outgoing: subjects.session(est.sessionId, role) };
    if (role === "initiator") {
      if (!subscribed) this.subscribeSession(peer, est.sessionId, "responder", () => est.session);
    } else if (r) {
      r.session = est.session;
      for (const se of r.early.splice(0)) this.openAndDeliver(peer, est.session, se, subjects.session(est.sessionId, "initiator"));
      this.responders.delete(peer);
    }
    // The newest session wins for sending; older ones keep receiving until closed.
    this.live.set(peer, live);
    return live;
  }

  /** Subscribes to the peer's direction of a session; sessionFor returns the Session, or undefined to hold the packet. */
  private subscribeSession(peer: string, sessionId: string, from: "initiator" | "responder", sessionFor: (se: SessionEnvelope) => Session | undefined): () => void {
    const subject = subjects.session(sessionId, from);
    const stop = this.host.carrier.subscribe(
      subject,
      (packet) => {
        if (packet.kind.case !== "session") throw new FleetError(ErrorCode.WIRE_MALFORMED, "only SessionEnvelopes travel on session subjects");
        const session = sessionFor(packet.kind.value);
        if (session) this.openAndDeliver(peer, session, packet.kind.value, subject);
      },
      (e, s) => this.host.reject(e, s),
    );
    const remove = () => {
      stop();
      this.subscriptions.delete(remove);
    };
    this.subscriptions.set(remove, peer);
    return remove;
  }

  private openAndDeliver(peer: string, session: Session, se: SessionEnvelope, subject: string): void {
    let opened: ReturnType<Session["openAll"]>;
    try {
      opened = session.openAll(se);
    } catch (e) {
      return this.host.reject(asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "session message"), subject);
    }
    for (const e of opened.refused) this.host.reject(e, subject);
    for (const env of opened.envelopes) {
      if (env.sender !== peer) {
        this.host.reject(new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `session with ${peer} carried a message from ${env.sender}`, { pointer: "/sender" }), subject);
        continue;
      }
      this.host.deliver(env).catch((e) => this.host.reject(asFleetError(e, ErrorCode.INTERNAL_ERROR, "session message"), subject));
    }
  }

  private async publishHandshake(peer: string, signed: SignedEnvelope): Promise<void> {
    const packet = create(PacketSchema, { kind: { case: "signed", value: signed } });
    const id = decodeEnvelope(signed.payload).id;
    await this.host.carrier.publishDurable(subjects.agentInbox(peer), packet, id, { publicKey: this.host.identity.publicKey });
  }

  /**
   * Ends every session with peer (its key was rotated: they were opened with the old one).
   * Its session subjects are no longer listened to; the next send to peer handshakes anew.
   */
  forget(peer: string): void {
    const live = this.live.get(peer);
    if (live) this.flush(live);
    this.live.delete(peer);
    const r = this.responders.get(peer);
    r?.machine.cancel();
    r?.stop();
    this.responders.delete(peer);
    for (const [stop, p] of [...this.subscriptions]) if (p === peer) stop();
  }

  /** Ends every session (the connection closes, or our own key was rotated); usable again afterwards. */
  close(reason = "connection closed"): void {
    // What was sent in this tick still goes out: a send that resolved was published.
    for (const live of this.live.values()) this.flush(live);
    for (const i of this.initiators.values()) i.fail(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, reason));
    for (const r of this.responders.values()) r.machine.cancel();
    this.responders.clear();
    for (const stop of [...this.subscriptions.keys()]) stop();
    this.live.clear();
  }
}
