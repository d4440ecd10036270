// Key rotation on NATS (spec/signing.md "Name-to-key pinning and rotation", "On NATS").
// There is no hub to hold the pins, so the rotation itself is stored: the same KeyRotation
// envelope the hub takes (to fleet:hub, signed by the old key, proven by the new key) goes
// to fleet.v1.keys.{agent} in the stream FLEET_KEYS (deduped by envelope id, each agent's
// last 64 kept, no age limit). Every agent reads that stream in order from the start when
// it connects (an agent offline during a rotation learns it then) and keeps following it
// live, applying each rotation with PinnedKeys.applyRotation after verifying it against
// the time the server stored it. A refused rotation changes nothing and is reported.
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ConsumerMessages, JsMsg } from "nats";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, type Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import { buildEnvelope } from "../client/draft.js";
import type { Clock } from "../clock.js";
import { createKeyRevocation, createKeyRotation, openSignedEnvelope, PinnedKeys, signEnvelope, type Identity, type PinnedKey, type RevokedKey } from "../crypto/index.js";
import { parseEnvelope } from "../crypto/envelope-bytes.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import type { NatsCarrier } from "./carrier.js";
import { introducingResolver, type TrustPolicy } from "./keys.js";
import { parseSubject, STREAMS, subjects } from "./subjects.js";
import { announcedPublicKey, fromWire } from "./wire.js";

export interface RotationHost {
  keys: PinnedKeys;
  trust: TrustPolicy;
  clock: Clock;
  carrier: NatsCarrier;
  /** A binding moved (after it moved): sessions opened with the old key end; `retired` is the key it moved from. */
  rotated(pin: PinnedKey, retired: RetiredKey): void;
  /** A key was revoked (after the name was unbound): sessions with that agent end. */
  revoked(r: RevokedKey): void;
  reject(e: FleetError, subject: string): void;
}

/** How long connect waits for the stored history to be applied (default 10 s): 808 after that. */
const HISTORY_TIMEOUT_MS = 10_000;

export class NatsRotations {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  /** Highest FLEET_KEYS sequence handled so far. */
  private handled = 0;
  /** Rotations applied so far. */
  private applied = 0;
  /** The last sequence stored before we connected: up to it, the stream is history. */
  private historyEnd = 0;
  /** Every statement read in the history, and the refused ones, reported once it is all read. */
  private readonly past: Statement[] = [];
  private readonly refused: { at: Statement; error: FleetError; subject: string }[] = [];
  private readonly waiting = new Set<{ seq: number; done: () => void }>();
  private catching?: Promise<boolean>;

  constructor(private readonly host: RotationHost) {}

  /** Follows FLEET_KEYS from its first message; resolves once everything stored before now is applied. */
  async start(timeoutMs = HISTORY_TIMEOUT_MS): Promise<void> {
    const nc = this.host.carrier.nc;
    try {
      const last = (this.historyEnd = await this.lastSeq());
      // An ordered consumer: ephemeral, in stream order, recreated at the right place after a gap.
      const consumer = await nc.jetstream().consumers.get(STREAMS.keys.name);
      this.messages = await consumer.consume();
      const messages = this.messages;
      this.loop = (async () => {
        for await (const m of messages) this.handle(m);
      })();
      await this.reached(last, timeoutMs);
    } catch (e) {
      throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `reading ${STREAMS.keys.name}`);
    }
  }

  /**
   * A sender was refused for signing with a key other than the one pinned for it: it may
   * have rotated an instant ago. Applies every rotation stored by now (bounded wait); true
   * when that moved a binding, so the message deserves one more look.
   */
  catchUp(timeoutMs = 2_000): Promise<boolean> {
    this.catching ??= (async () => {
      const before = this.applied;
      try {
        await this.reached(await this.lastSeq(), timeoutMs);
      } catch {
        // Not caught up in time: judge the message with what is known.
      }
      return this.applied !== before;
    })().finally(() => (this.catching = undefined));
    return this.catching;
  }

  async stop(): Promise<void> {
    for (const w of this.waiting) w.done();
    this.waiting.clear();
    await this.messages?.close();
    await this.loop;
  }

  private async lastSeq(): Promise<number> {
    const jsm = await this.host.carrier.nc.jetstreamManager();
    return (await jsm.streams.info(STREAMS.keys.name)).state.last_seq;
  }

  private reached(seq: number, timeoutMs: number): Promise<void> {
    if (this.handled >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = { seq, done: () => (clearTimeout(timer), this.waiting.delete(w), resolve()) };
      const timer = setTimeout(() => {
        this.waiting.delete(w);
        reject(new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `${STREAMS.keys.name} not read up to ${seq} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.add(w);
    });
  }

  private handle(m: JsMsg): void {
    const inHistory = m.seq <= this.historyEnd;
    const at = inHistory ? statementOf(m) : undefined;
    if (at) this.past.push(at);
    try {
      this.apply(fromWire(m.data, m.headers), m);
    } catch (e) {
      const error = asFleetError(e, ErrorCode.WIRE_MALFORMED, m.subject);
      if (at) this.refused.push({ at, error, subject: m.subject });
      else if (!this.superseded(statementOf(m))) this.host.reject(error, m.subject);
    }
    this.handled = Math.max(this.handled, m.seq);
    if (inHistory && this.handled >= this.historyEnd) this.historyRead();
    for (const w of this.waiting) if (this.handled >= w.seq) w.done();
  }

  /**
   * The whole history is applied: a refused statement from before a later one that names
   * the key now pinned is superseded (an agent rotated more than once while we kept its
   * newest key); the others are reported, in stream order.
   */
  private historyRead(): void {
    for (const { at, error, subject } of this.refused.splice(0)) {
      const pinned = this.host.keys.keyIdOf(at.agent);
      const later = this.past.some((p) => p.seq > at.seq && p.agent === at.agent && p.newKeyId === pinned);
      if (!later && !this.superseded(at)) this.host.reject(error, subject);
    }
    this.past.length = 0;
  }

  /** Verifies one stored rotation and moves the binding; throws FleetError (nothing changed) to refuse it. */
  private apply(packet: Packet, m: JsMsg): void {
    const { keys, trust } = this.host;
    if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "a key rotation must be a signed envelope (signed by the old key)", { pointer: "/signature" });
    const announced = announcedPublicKey(m.headers);
    // Fresh when the server stored it, however long ago that was (an agent may have been offline for months).
    const storedAt = m.info.timestampNanos / 1e6;
    const clock: Clock = { now: () => storedAt, setTimer: this.host.clock.setTimer, clearTimer: this.host.clock.clearTimer };
    // A first-seen signer is not pinned here: only the key the rotation ends with is, and only if it is accepted.
    const env = openSignedEnvelope(packet.kind.value, { keys: introducingResolver(keys, announced, trust, false), clock });
    const at = parseSubject(m.subject);
    if (at?.channel !== "keys" || at.param !== env.sender || env.recipient?.target.case !== "hub") {
      throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `a rotation by ${env.sender} arrived on ${m.subject}`, { pointer: "/sender" });
    }
    if (env.body?.kind.case === "keyRevocation") {
      // A revocation (spec/signing.md "Revocation"): checked against the agent's pinned key,
      // or, for an agent not pinned here, against the key it is signed with (then recorded
      // so that key is never pinned). Either way the name is left unbound.
      let r;
      if (keys.keyIdOf(env.sender) === undefined) {
        if (!announced) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `no key is pinned for ${env.sender}`, { pointer: "/sender" });
        const scratch = new PinnedKeys();
        scratch.pin(env.sender, announced);
        r = keys.revoke(scratch.applyRevocation(env));
      } else {
        r = keys.applyRevocation(env);
      }
      this.applied++;
      this.host.revoked(r);
      return;
    }
    let pin: PinnedKey;
    const rot = env.body?.kind.case === "keyRotation" ? env.body.kind.value : undefined;
    const oldKey = keys.keyIdOf(env.sender) === undefined ? announced : keys.resolve(rot?.oldKeyId ?? "");
    if (keys.keyIdOf(env.sender) === undefined) {
      // Trust on first use, as for any first message: the signer's key, then the rotation from it.
      if (!announced) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `no key is pinned for ${env.sender}`, { pointer: "/sender" });
      const scratch = new PinnedKeys();
      scratch.pin(env.sender, announced);
      pin = keys.pin(env.sender, scratch.applyRotation(env).publicKey);
    } else {
      pin = keys.applyRotation(env);
    }
    this.applied++;
    this.host.rotated(pin, { agent: env.sender, publicKey: oldKey!, at: rot?.effectiveAt ? timestampMs(rot.effectiveAt) : storedAt });
  }

  /**
   * A refusal not worth reporting: the rotation is already in effect (our own, read back;
   * history read again after a restart), or it concerns an agent this connection does
   * not know and, with trust "pinned", never will.
   */
  private superseded(at: Statement | undefined): boolean {
    if (!at) return false;
    const pinned = this.host.keys.keyIdOf(at.agent);
    return pinned === at.newKeyId || (pinned === undefined && this.host.trust === "pinned");
  }
}

/** A key a rotation replaced, and when: group statements it signs from then on do not verify (spec/groups.md "Keys"). */
export interface RetiredKey {
  agent: string;
  publicKey: Uint8Array;
  /** Unix ms of the rotation's effective_at. */
  at: number;
}

/** What a stored message says it is, read without trusting it: it only decides whether a refusal is reported. */
interface Statement {
  seq: number;
  agent: string;
  newKeyId: string;
}

function statementOf(m: JsMsg): Statement | undefined {
  try {
    const packet = fromWire(m.data, m.headers);
    if (packet.kind.case !== "signed") return undefined;
    const body = parseEnvelope(packet.kind.value.payload, packet.kind.value.payloadType).body?.kind;
    return body?.case === "keyRotation" ? { seq: m.seq, agent: body.value.agent, newKeyId: body.value.newKeyId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The KeyRotation from oldIdentity to next, as the hub takes it, signed by the old key and
 * stored in FLEET_KEYS. Resolves once stored (the PubAck) with the signed envelope's packet.
 */
export async function storeRotation(carrier: NatsCarrier, clock: Clock, oldIdentity: Identity, next: Identity): Promise<{ env: Envelope; packet: Packet; detail: string }> {
  const env = buildEnvelope(
    { to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, body: { case: "keyRotation", value: createKeyRotation(oldIdentity, next, clock.now()) } },
    oldIdentity.agent,
    clock,
  );
  const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, oldIdentity) } });
  const ack = await carrier.publishDurable(subjects.keys(oldIdentity.agent), packet, env.id, { publicKey: oldIdentity.publicKey });
  return { env, packet, detail: `stored in ${ack.stream} at ${ack.seq}${ack.duplicate ? " (duplicate)" : ""}` };
}

/**
 * The KeyRevocation of identity's own key, signed by that key and stored in FLEET_KEYS (the
 * agent's keys subject), where every agent applies it live or when it connects. Resolves once stored.
 */
export async function storeRevocation(carrier: NatsCarrier, clock: Clock, identity: Identity, effectiveAtMs: number, reason: string): Promise<{ env: Envelope; packet: Packet; detail: string }> {
  const env = buildEnvelope({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, body: { case: "keyRevocation", value: createKeyRevocation(identity, effectiveAtMs, reason) } }, identity.agent, clock);
  const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, identity) } });
  const ack = await carrier.publishDurable(subjects.keys(identity.agent), packet, env.id, { publicKey: identity.publicKey });
  return { env, packet, detail: `stored in ${ack.stream} at ${ack.seq}${ack.duplicate ? " (duplicate)" : ""}` };
}

