// Group chains on NATS (spec/groups.md "On NATS"): each group's SignedGroupStatements are
// stored in order on fleet.v1.groupchain.{group} (stream FLEET_GROUPS). An append folds the
// chain as stored, checks the new statement folds onto it, and publishes it with JetStream's
// expected last subject sequence set to the last message it read, so of two appends racing for
// one seq (two joins for an invite's last use) only one is stored; the other reads again and
// gets 604. Every reader verifies and folds every stored statement itself, in stream order,
// with the keys this connection knows (group-keys.ts); one that does not fold is skipped and
// reported, never applied, so nothing the stream or a peer says is trusted.
import { headers as natsHeaders, type ConsumerMessages, type JsMsg } from "nats";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { GroupStatementSchema, SignedGroupStatementSchema } from "../../generated/proto/fleet/v1/group_pb.js";
import type { Clock } from "../clock.js";
import { parseMessage } from "../codec/index.js";
import { toHex, type Identity } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import {
  applyGroupStatement,
  checkSend,
  GROUP_STATEMENT_SKEW_MS,
  isMember,
  MAX_CHAINED_GROUPS,
  MAX_GROUP_STATEMENTS,
  MAX_STATEMENT_BYTES,
  openGroupStatement,
  type GroupState,
} from "../protocol/groups/index.js";
import type { NatsCarrier } from "./carrier.js";
import type { NatsGroupKeys } from "./group-keys.js";
import { STREAMS, subjects } from "./subjects.js";
import { announcedPublicKey, CONTENT_TYPE, HEADER } from "./wire.js";

/** Content-Type of a stored statement: the data is one binary fleet.v1.SignedGroupStatement. */
export const GROUP_STATEMENT_CONTENT_TYPE = CONTENT_TYPE.signedGroupStatement;
/** An append whose chain moved under it for reasons other than a taken seq is retried this often, then 808. */
export const APPEND_ATTEMPTS = 3;
/** How long reading a chain up to its last stored statement may take (808 after). */
const READ_TIMEOUT_MS = 10_000;

export interface GroupChainHost {
  carrier: NatsCarrier;
  keys: NatsGroupKeys;
  readonly identity: Identity;
  clock: Clock;
  /** A stored statement that does not fold: skipped, reported with its code. */
  reject(e: FleetError, subject: string): void;
  /** A followed group's state moved (a statement folded). */
  changed(group: string, state: GroupState): void;
  /**
   * Applies every key rotation stored by now (FLEET_KEYS); true when that moved a binding. A
   * statement signed with a key just rotated in may arrive before the rotation is applied here.
   */
  catchUpKeys?(): Promise<boolean>;
}

/** What a statement says about itself, read without verifying (the fold verifies). */
function claimed(bytes: Uint8Array): { group: string; signer: string } {
  if (bytes.length > MAX_STATEMENT_BYTES) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `a signed statement is at most ${MAX_STATEMENT_BYTES} bytes`);
  try {
    const s = parseMessage(GroupStatementSchema, parseMessage(SignedGroupStatementSchema, bytes).statement);
    return { group: s.group, signer: s.signer };
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "not a fleet.v1.SignedGroupStatement", { cause: e });
  }
}

/**
 * One stored statement against the state so far: verified with the keys known here, about the
 * chain's own group (603 `/group`), dated within 120 s of when it was stored (605 `/at`), and
 * folded. Throws a coded FleetError, leaving the state as it was.
 */
export function foldStored(state: GroupState | undefined, group: string, bytes: Uint8Array, keys: NatsGroupKeys, announced: Uint8Array | undefined, storedAtMs: number): GroupState {
  const k = keys.forStatement(claimed(bytes).signer, announced);
  const opened = openGroupStatement(bytes, k);
  if (opened.statement.group !== group) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `a statement about ${opened.statement.group} stored in ${group}'s chain`, { pointer: "/group" });
  if (Math.abs(opened.at - storedAtMs) > GROUP_STATEMENT_SKEW_MS) throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, "a statement is stored within 120 s of its time", { pointer: "/at" });
  const next = applyGroupStatement(state, bytes, k);
  k.commit();
  return next;
}

/** The stream sequence of the last message on subject (0: none). */
async function lastOnSubject(carrier: NatsCarrier, subject: string): Promise<number> {
  const jsm = await carrier.nc.jetstreamManager();
  try {
    return (await jsm.streams.getMessage(STREAMS.groups.name, { last_by_subj: subject })).seq;
  } catch (e) {
    const err = e as { api_error?: { err_code?: number }; message?: string };
    if (err.api_error?.err_code === 10037 || /no message found/i.test(err.message ?? "")) return 0;
    throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `reading ${subject}`);
  }
}

/** Reads one group's stored chain in order, folding as it goes; optionally keeps following it. */
class ChainReader {
  state: GroupState | undefined;
  /** Stream sequence of the last message read on the subject, folded or skipped. */
  last = 0;
  /** Statements folded. */
  count = 0;
  readonly subject: string;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly waiting = new Set<{ seq: number; done: () => void }>();

  constructor(
    private readonly host: GroupChainHost,
    readonly group: string,
    private readonly folded: (state: GroupState, bytes: Uint8Array) => void = () => {},
  ) {
    this.subject = subjects.groupChain(group);
  }

  /** Reads everything stored so far; with follow, keeps reading what is stored later. */
  async read(follow: boolean, timeoutMs = READ_TIMEOUT_MS): Promise<void> {
    const end = await lastOnSubject(this.host.carrier, this.subject);
    if (end === 0 && !follow) return;
    try {
      const consumer = await this.host.carrier.nc.jetstream().consumers.get(STREAMS.groups.name, { filterSubjects: this.subject });
      const messages = (this.messages = await consumer.consume());
      this.loop = (async () => {
        for await (const m of messages) await this.handle(m);
      })();
      await this.reached(end, timeoutMs);
    } catch (e) {
      await this.stop();
      throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `reading ${this.subject}`);
    }
    if (!follow) await this.stop();
  }

  /** Waits until everything stored by now has been read. */
  async catchUp(timeoutMs = READ_TIMEOUT_MS): Promise<void> {
    await this.reached(await lastOnSubject(this.host.carrier, this.subject), timeoutMs);
  }

  async stop(): Promise<void> {
    for (const w of this.waiting) w.done();
    this.waiting.clear();
    await this.messages?.close();
    await this.loop;
  }

  private async handle(m: JsMsg): Promise<void> {
    try {
      await this.fold(m);
    } catch (e) {
      this.host.reject(asFleetError(e, ErrorCode.WIRE_MALFORMED, m.subject), m.subject);
    }
    this.last = Math.max(this.last, m.seq);
    for (const w of this.waiting) if (this.last >= w.seq) w.done();
  }

  /** Folds one stored message; an unknown or out-of-window key gets one more look once FLEET_KEYS is caught up. */
  private async fold(m: JsMsg): Promise<void> {
    try {
      this.foldNow(m);
    } catch (e) {
      const keyProblem = e instanceof FleetError && (e.code === ErrorCode.SECURITY_KEY_MISMATCH || (e.code === ErrorCode.SECURITY_SIGNATURE_INVALID && e.pointer === "/signature/keyId"));
      if (!keyProblem || !(await this.host.catchUpKeys?.())) throw e;
      this.foldNow(m);
    }
  }

  private foldNow(m: JsMsg): void {
    if (this.count >= MAX_GROUP_STATEMENTS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${this.group} has ${MAX_GROUP_STATEMENTS} statements`);
    const type = m.headers?.get(HEADER.contentType) ?? "";
    if (type !== GROUP_STATEMENT_CONTENT_TYPE) throw new FleetError(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, `a stored statement is ${GROUP_STATEMENT_CONTENT_TYPE}, not ${JSON.stringify(type)}`);
    const state = foldStored(this.state, this.group, m.data, this.host.keys, announcedPublicKey(m.headers), m.info.timestampNanos / 1e6);
    this.state = state;
    this.count++;
    this.folded(state, m.data);
  }

  private reached(seq: number, timeoutMs: number): Promise<void> {
    if (this.last >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = { seq, done: () => (clearTimeout(timer), this.waiting.delete(w), resolve()) };
      const timer = setTimeout(() => {
        this.waiting.delete(w);
        reject(new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `${this.subject} not read up to ${seq} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.add(w);
    });
  }
}

function wrongLastSequence(e: unknown): boolean {
  const err = e as { api_error?: { err_code?: number }; message?: string };
  return err?.api_error?.err_code === 10071 || /wrong last sequence/i.test(err?.message ?? "");
}

export interface AppendOptions {
  /**
   * Called after the chain was read and the statement checked against it, just before it is
   * stored (once per attempt): lets a caller line up two appends racing for one seq.
   */
  beforeStore?: (attempt: number) => Promise<void>;
}

/** JetStream's "maximum messages per subject / messages / bytes exceeded" (err_code 10077, 10076, 10078). */
function streamFull(e: unknown): boolean {
  const err = e as { api_error?: { err_code?: number; description?: string }; message?: string };
  return /maximum (messages|bytes)( per subject)? exceeded/i.test(`${err?.api_error?.description ?? ""} ${err?.message ?? ""}`);
}

/** An agent's group chains on NATS: appending, reading, following, and the recipient's check. */
export class NatsGroupChains {
  /** Groups followed live (at most maxFollowed, default MAX_CHAINED_GROUPS: the next follow is 804). */
  private readonly followed = new Map<string, ChainReader>();

  constructor(
    private readonly host: GroupChainHost,
    private readonly maxFollowed = MAX_CHAINED_GROUPS,
  ) {}

  /**
   * Follows a group's chain: reads what is stored, then keeps folding what is appended (each
   * change reported to host.changed). Resolves with the state, undefined while it has no chain.
   */
  async follow(group: string): Promise<GroupState | undefined> {
    const known = this.followed.get(group);
    if (known) return known.state;
    if (this.followed.size >= this.maxFollowed) throw new FleetError(ErrorCode.DELIVERY_BUSY, `following ${this.maxFollowed} groups`);
    const reader = new ChainReader(this.host, group, (state) => this.host.changed(group, state));
    this.followed.set(group, reader);
    try {
      await reader.read(true);
    } catch (e) {
      this.followed.delete(group);
      throw e;
    }
    return reader.state;
  }

  async unfollow(group: string): Promise<void> {
    const r = this.followed.get(group);
    this.followed.delete(group);
    await r?.stop();
  }

  /** The followed group's state as folded here (undefined: not followed, or no chain yet). */
  state(group: string): GroupState | undefined {
    return this.followed.get(group)?.state;
  }

  /** Waits until a followed group has folded everything stored by now; its state then. */
  async caughtUp(group: string): Promise<GroupState | undefined> {
    const r = this.followed.get(group);
    if (!r) return (await this.read(group)).state;
    await r.catchUp();
    return r.state;
  }

  /** Reads a chain once; the statements that folded, in order (at most MAX_GROUP_STATEMENTS). */
  async read(group: string): Promise<{ state: GroupState | undefined; statements: Uint8Array[]; last: number }> {
    const statements: Uint8Array[] = [];
    const reader = new ChainReader(this.host, group, (_s, bytes) => statements.push(bytes));
    await reader.read(false);
    return { state: reader.state, statements, last: reader.last };
  }

  /** The group's chain as folded here: only statements that verified and folded. 404 without one. */
  async chain(group: string): Promise<Uint8Array[]> {
    const { statements } = await this.read(group);
    if (statements.length === 0) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no chain for group ${group}`, { pointer: "/group" });
    return statements;
  }

  /**
   * Appends one signed statement: folds the stored chain, checks the statement folds onto it
   * (its code otherwise: 604 for a taken seq, 608 for an invite used up ...), and stores it only
   * if the chain has not moved since it was read. Resolves with the state it makes.
   */
  async append(bytes: Uint8Array, opts: AppendOptions = {}): Promise<GroupState> {
    const { group } = claimed(bytes);
    const subject = subjects.groupChain(group);
    const self = this.host.identity;
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const read = await this.read(group);
      // Throws when the statement does not fold onto the chain as stored (604 once its seq is taken).
      const next = foldStored(read.state, group, bytes, this.host.keys, self.publicKey, this.host.clock.now());
      await opts.beforeStore?.(attempt);
      const h = natsHeaders();
      h.set(HEADER.contentType, GROUP_STATEMENT_CONTENT_TYPE);
      h.set(HEADER.publicKey, Buffer.from(self.publicKey).toString("base64"));
      try {
        await this.host.carrier.nc.jetstream().publish(subject, bytes, { headers: h, msgID: toHex(sha256(bytes)), expect: { lastSubjectSequence: read.last }, timeout: 5_000 });
        return next;
      } catch (e) {
        // Someone stored a message first: read again; the fold then says whether our seq is taken.
        // FLEET_GROUPS full (statements per group, bytes in all): refused, never an old one dropped.
        if (streamFull(e)) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${STREAMS.groups.name} holds no more statements for ${group}`, { cause: e });
        if (!wrongLastSequence(e)) throw asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `storing a statement in ${subject}`);
      }
    }
    throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `${group}'s chain kept moving under ${APPEND_ATTEMPTS} appends; try again`);
  }

  /**
   * The recipient's check for a group:<name> envelope of a followed group with a chain: the
   * sender may send (603 `/recipient/group` otherwise) and this agent is a member (603). Groups
   * without a chain, and envelopes to anything else, pass.
   */
  check(env: Envelope, self: string): void {
    const to = env.recipient?.target;
    if (to?.case !== "group") return;
    const state = this.state(to.value);
    if (!state) return;
    checkSend(state, env.sender);
    if (!isMember(state, self)) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${self} is not a member of ${to.value}`, { pointer: "/recipient/group" });
  }

  async stop(): Promise<void> {
    const readers = [...this.followed.values()];
    this.followed.clear();
    for (const r of readers) await r.stop();
  }
}
