// The hub's message history (spec/history.md): what each agent sent and received, grouped
// into threads, kept in its own SQLite file (FLEET_HOME/hub/history.db) so it never competes
// with the inbox's durability. Bounded twice: at most maxMessages rows (oldest dropped first)
// and nothing older than maxAgeMs; the write queue is bounded too (flushed in one
// transaction per event-loop turn, at once when it reaches WRITE_QUEUE_LIMIT).
//
// A message's thread: its thread_id when set; else the thread of the message it answers
// (in_reply_to, looked up among the sender's and recipient's history); else its own id.
// Only a participant reads a thread, and a participant sees the messages of it that it
// sent or received (never other agents' side conversations that share the thread id).
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { toBase64Url } from "../crypto/bytes.js";
import type { ThreadSummary } from "../client/history.js";
import { ErrorCode, FleetError } from "../errors.js";

export interface HistoryOptions {
  /** Most messages kept (default 100,000; 0 disables history). */
  maxMessages?: number;
  /** Oldest kept, in milliseconds (default 7 days). */
  maxAgeMs?: number;
}

export interface HistoryRecord {
  id: string;
  sender: string;
  /** Every agent the hub routed it to. */
  recipients: readonly string[];
  threadId: string;
  inReplyTo: string;
  /** The Packet bytes as forwarded (signed: verifiable by anyone; session: a template the hub vouches for). */
  packet: Uint8Array;
  signed: boolean;
  at: number;
}

// The answer's shape is the client's (runtime/client/history.ts): one definition for both ends.
export type { ThreadSummary };

export interface HistoryMessage {
  seq: number;
  id: string;
  sender: string;
  recipients: string[];
  in_reply_to: string;
  at: number;
  signed: boolean;
  /** Signed: base64url (unpadded) of the Packet holding the SignedEnvelope; the reader verifies it itself. */
  packet?: string;
  /** Session-authenticated: base64url of the Envelope bytes (only the hub vouches for them) and their payload type. */
  envelope?: string;
  payload_type?: string;
}

export const HISTORY_DEFAULTS = { maxMessages: 100_000, maxAgeMs: 7 * 24 * 3600_000 } as const;
/** Pending writes above this are committed at once rather than at the end of the turn. */
export const WRITE_QUEUE_LIMIT = 4_096;
/** Most threads or messages one query answers. */
export const HISTORY_PAGE_LIMIT = 200;
/** Most packet bytes one answer carries (it must fit a frame; the rest comes with `before`). */
export const HISTORY_PAGE_BYTES = 512 * 1024;

// Indexes are few on purpose (this is written for every routed message): messages by seq
// and by (sender, id); parties by (agent, thread, msg). Parties of dropped messages are
// invisible at once (every read joins messages) and deleted in bulk later (orphanSweep).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL, sender TEXT NOT NULL, recipients TEXT NOT NULL, thread TEXT NOT NULL, in_reply_to TEXT NOT NULL,
  at INTEGER NOT NULL, signed INTEGER NOT NULL, packet BLOB NOT NULL, UNIQUE (sender, id));
CREATE TABLE IF NOT EXISTS parties (
  agent TEXT NOT NULL, thread TEXT NOT NULL, msg INTEGER NOT NULL,
  PRIMARY KEY (agent, thread, msg)) WITHOUT ROWID;
`;

/** Participants listed per thread are taken from its latest this-many messages. */
const PARTICIPANT_SCAN = 200;

export class History {
  readonly maxMessages: number;
  readonly maxAgeMs: number;
  private readonly db?: Database.Database;
  private pending: HistoryRecord[] = [];
  private scheduled = false;
  private count = 0;
  /** Messages dropped since parties were last cleaned (orphans, invisible but taking space). */
  private droppedSinceClean = 0;
  private readonly stmts?: ReturnType<History["prepare"]>;

  constructor(dir: string, o: HistoryOptions = {}, private readonly now: () => number = Date.now) {
    this.maxMessages = o.maxMessages ?? HISTORY_DEFAULTS.maxMessages;
    this.maxAgeMs = o.maxAgeMs ?? HISTORY_DEFAULTS.maxAgeMs;
    if (!Number.isInteger(this.maxMessages) || this.maxMessages < 0) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "history maxMessages must be a non-negative integer");
    if (!(this.maxAgeMs > 0)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "history maxAgeMs must be positive");
    if (this.maxMessages === 0) return;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dir, "history.db"));
    this.db.pragma("journal_mode = WAL");
    // Best effort (a crash may lose the last writes, never a message): no fsync on this file.
    this.db.pragma("synchronous = OFF");
    this.db.exec(SCHEMA);
    this.stmts = this.prepare(this.db);
    this.count = (this.stmts.count.get() as { n: number }).n;
  }

  get enabled(): boolean {
    return this.db !== undefined;
  }

  /** Rows currently kept (after pending writes). */
  size(): number {
    this.flush();
    return this.count;
  }

  /** Party rows kept (at most (maxMessages + max(1,000, maxMessages / 2)) x the recipients per message, plus one). */
  partiesSize(): number {
    this.flush();
    return this.db ? (this.db.prepare("SELECT count(*) AS n FROM parties").get() as { n: number }).n : 0;
  }

  private prepare(db: Database.Database) {
    return {
      count: db.prepare("SELECT count(*) AS n FROM messages"),
      insert: db.prepare("INSERT OR IGNORE INTO messages (id, sender, recipients, thread, in_reply_to, at, signed, packet) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
      party: db.prepare("INSERT OR IGNORE INTO parties (agent, thread, msg) VALUES (?, ?, ?)"),
      replied: db.prepare("SELECT seq, thread FROM messages WHERE id = ? ORDER BY seq DESC LIMIT 4"),
      tookPart: db.prepare("SELECT 1 FROM parties WHERE agent = ? AND thread = ? AND msg = ?"),
      nth: db.prepare("SELECT seq FROM messages ORDER BY seq LIMIT 1 OFFSET ?"),
      dropUpTo: db.prepare("DELETE FROM messages WHERE seq <= ?"),
      lastOlderThan: db.prepare("SELECT max(seq) AS seq FROM messages WHERE at < ?"),
      orphans: db.prepare("DELETE FROM parties WHERE msg < (SELECT coalesce(min(seq), 9223372036854775807) FROM messages)"),
      threads: db.prepare(
        `SELECT p.thread AS thread_id, count(*) AS messages, min(m.at) AS first_at, max(m.at) AS last_at
         FROM parties p JOIN messages m ON m.seq = p.msg WHERE p.agent = ? GROUP BY p.thread ORDER BY last_at DESC, thread_id LIMIT ?`,
      ),
      isParty: db.prepare("SELECT 1 FROM parties p JOIN messages m ON m.seq = p.msg WHERE p.agent = ? AND p.thread = ? LIMIT 1"),
      thread: db.prepare(
        `SELECT m.seq, m.id, m.sender, m.recipients, m.in_reply_to, m.at, m.signed, m.packet FROM parties p JOIN messages m ON m.seq = p.msg
         WHERE p.agent = ? AND p.thread = ? AND p.msg < ? ORDER BY p.msg DESC LIMIT ?`,
      ),
      sides: db.prepare(
        `SELECT m.sender, m.recipients FROM parties p JOIN messages m ON m.seq = p.msg WHERE p.agent = ? AND p.thread = ? ORDER BY p.msg DESC LIMIT ${PARTICIPANT_SCAN}`,
      ),
    };
  }

  /** Queues one routed message (committed at the end of this turn). */
  record(r: HistoryRecord): void {
    if (!this.db) return;
    this.pending.push(r);
    if (this.pending.length >= WRITE_QUEUE_LIMIT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Commits pending records in one transaction, then enforces the count bound. */
  flush(): void {
    this.scheduled = false;
    if (!this.db || !this.stmts || !this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    const s = this.stmts;
    try {
      this.db.transaction(() => {
        for (const r of batch) {
          const thread = r.threadId || (r.inReplyTo && this.threadOfReply(r)) || r.id;
          const res = s.insert.run(r.id, r.sender, r.recipients.join(","), thread, r.inReplyTo, r.at, r.signed ? 1 : 0, r.packet);
          if (res.changes === 0) continue; // a retry of an acked message: kept once
          const seq = Number(res.lastInsertRowid);
          this.count++;
          s.party.run(r.sender, thread, seq);
          for (const to of r.recipients) if (to !== r.sender) s.party.run(to, thread, seq);
        }
        if (this.count > this.maxMessages) {
          const row = s.nth.get(this.count - this.maxMessages - 1) as { seq: number } | undefined;
          if (row) this.drop(row.seq);
        }
      })();
    } catch {
      // History is best effort next to delivery: a failed write loses history rows, never messages.
      this.count = (s.count.get() as { n: number }).n;
    }
  }

  private drop(upToSeq: number): void {
    const s = this.stmts!;
    const dropped = s.dropUpTo.run(upToSeq).changes;
    this.count -= dropped;
    this.droppedSinceClean += dropped;
    // Orphaned parties are invisible; they are removed in bulk once they could add up.
    if (this.droppedSinceClean > Math.max(1_000, this.maxMessages / 2)) this.orphanSweep();
  }

  private orphanSweep(): void {
    this.stmts!.orphans.run();
    this.droppedSinceClean = 0;
  }

  /** The thread of the message r answers, when r's sender or a recipient took part in it. */
  private threadOfReply(r: HistoryRecord): string | undefined {
    const s = this.stmts!;
    for (const m of s.replied.all(r.inReplyTo) as { seq: number; thread: string }[]) {
      for (const agent of [r.sender, ...r.recipients]) if (s.tookPart.get(agent, m.thread, m.seq)) return m.thread;
    }
    return undefined;
  }

  /** Age-based expiry and orphan removal (called from the hub's maintenance, once a minute). */
  sweep(): void {
    if (!this.db) return;
    this.flush();
    try {
      this.db.transaction(() => {
        const old = (this.stmts!.lastOlderThan.get(this.now() - this.maxAgeMs) as { seq: number | null }).seq;
        if (old) this.drop(old);
        this.orphanSweep();
      })();
    } catch {
      // retried on the next sweep
    }
  }

  /** The threads agent took part in, most recent first. */
  threads(agent: string, limit = 50): ThreadSummary[] {
    this.need();
    this.flush();
    const s = this.stmts!;
    const rows = s.threads.all(agent, clampLimit(limit)) as Omit<ThreadSummary, "participants">[];
    return rows.map((r) => {
      const who = new Set<string>();
      for (const m of s.sides.all(agent, r.thread_id) as { sender: string; recipients: string }[]) {
        who.add(m.sender);
        for (const to of m.recipients.split(",")) if (to) who.add(to);
      }
      return { ...r, participants: [...who].sort() };
    });
  }

  /**
   * The messages of a thread that agent sent or received, oldest first; `before` (a seq)
   * pages further back. 603 when agent never took part in it (or it is not kept any more).
   */
  thread(agent: string, threadId: string, o: { limit?: number; before?: number } = {}): { thread_id: string; messages: HistoryMessage[]; more: boolean } {
    this.need();
    this.flush();
    const s = this.stmts!;
    if (!s.isParty.get(agent, threadId)) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${agent} is not a participant of thread ${JSON.stringify(threadId)} (or it is no longer kept)`, { pointer: "/thread_id" });
    const n = clampLimit(o.limit ?? HISTORY_PAGE_LIMIT);
    const rows = s.thread.all(agent, threadId, o.before ?? Number.MAX_SAFE_INTEGER, n + 1) as { seq: number; id: string; sender: string; recipients: string; in_reply_to: string; at: number; signed: number; packet: Buffer }[];
    let more = rows.length > n;
    const out: HistoryMessage[] = [];
    let bytes = 0;
    for (const r of rows.slice(0, n)) {
      bytes += r.packet.length;
      if (out.length && bytes > HISTORY_PAGE_BYTES) {
        more = true;
        break;
      }
      const recipients = r.recipients.split(",").filter(Boolean).sort();
      const m: HistoryMessage = { seq: r.seq, id: r.id, sender: r.sender, recipients, in_reply_to: r.in_reply_to, at: r.at, signed: r.signed === 1 };
      if (r.signed === 1) m.packet = toBase64Url(r.packet);
      else {
        // A session template: the envelope bytes unsealed (no MAC to check for anyone else).
        const p = fromBinary(PacketSchema, r.packet);
        if (p.kind.case !== "session") continue;
        m.envelope = toBase64Url(p.kind.value.payload);
        m.payload_type = p.kind.value.payloadType;
      }
      out.push(m);
    }
    return { thread_id: threadId, messages: out.reverse(), more };
  }

  private need(): void {
    if (!this.db) throw new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, "this hub keeps no history (started with --history-max 0)");
  }

  close(): void {
    this.flush();
    this.db?.close();
  }
}

function clampLimit(n: number): number {
  return Math.max(1, Math.min(HISTORY_PAGE_LIMIT, Math.floor(Number(n)) || HISTORY_PAGE_LIMIT));
}
