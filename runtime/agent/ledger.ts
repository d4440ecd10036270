// The at-most-once ledger of `fleet serve` (SQLite, FLEET_HOME/serve/AGENT.db): every message
// handed to a handler is claimed here first, by (sender, id), so it is handed over at most
// once, also across restarts. States: QUEUED (claimed, waiting for a worker: the envelope is
// kept so it can still run after a restart, since it never started), RUNNING (a handler has
// it), DONE (finished; the outcome is kept), REPORTED (it was RUNNING when the process
// stopped: reported to its sender as FAILED, never retried). Bounded: at most maxEntries
// finished rows (the oldest finished ones go first).
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ErrorCode, FleetError } from "../errors.js";

export const LedgerState = { QUEUED: 0, RUNNING: 1, DONE: 2, REPORTED: 3 } as const;
export type LedgerStateValue = (typeof LedgerState)[keyof typeof LedgerState];

export interface LedgerRow {
  sender: string;
  id: string;
  state: LedgerStateValue;
  /** The serialized Envelope (kept while QUEUED or RUNNING). */
  envelope: Uint8Array;
  verified: boolean;
}

export const LEDGER_DEFAULT_MAX = 100_000;

export class Ledger {
  private readonly db: Database.Database;
  private readonly s;

  constructor(file: string, readonly maxEntries = LEDGER_DEFAULT_MAX) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "ledger maxEntries must be at least 1");
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      this.db = new Database(file);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = FULL");
      this.db.exec(`CREATE TABLE IF NOT EXISTS handled (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, id TEXT NOT NULL, state INTEGER NOT NULL,
        envelope BLOB, verified INTEGER NOT NULL, outcome TEXT, claimed_at INTEGER NOT NULL, UNIQUE (sender, id));
        CREATE INDEX IF NOT EXISTS handled_state ON handled (state, seq);`);
    } catch (e) {
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot open the serve ledger ${file}: ${(e as Error).message}`, { cause: e });
    }
    const db = this.db;
    this.s = {
      claim: db.prepare("INSERT OR IGNORE INTO handled (sender, id, state, envelope, verified, claimed_at) VALUES (?, ?, 0, ?, ?, ?)"),
      state: db.prepare("UPDATE handled SET state = ? WHERE sender = ? AND id = ?"),
      finish: db.prepare("UPDATE handled SET state = ?, envelope = NULL, outcome = ? WHERE sender = ? AND id = ?"),
      byState: db.prepare("SELECT sender, id, state, envelope, verified FROM handled WHERE state = ? ORDER BY seq"),
      finished: db.prepare("SELECT count(*) AS n FROM handled WHERE state >= 2"),
      trim: db.prepare("DELETE FROM handled WHERE seq IN (SELECT seq FROM handled WHERE state >= 2 ORDER BY seq LIMIT ?)"),
      outcome: db.prepare("SELECT state, outcome FROM handled WHERE sender = ? AND id = ?"),
    };
  }

  /** Claims a message; false when it was claimed before (it is never handed over twice). */
  claim(sender: string, id: string, envelope: Uint8Array, verified: boolean, now = Date.now()): boolean {
    return this.s.claim.run(sender, id, envelope, verified ? 1 : 0, now).changes === 1;
  }

  running(sender: string, id: string): void {
    this.s.state.run(LedgerState.RUNNING, sender, id);
  }

  /** Records the outcome; the envelope is dropped and the oldest finished rows beyond maxEntries go. */
  finish(sender: string, id: string, outcome: unknown, state: LedgerStateValue = LedgerState.DONE): void {
    this.s.finish.run(state, JSON.stringify(outcome), sender, id);
    const n = (this.s.finished.get() as { n: number }).n;
    if (n > this.maxEntries) this.s.trim.run(n - this.maxEntries);
  }

  /** Rows in one state, oldest first (recovery after a restart). */
  inState(state: LedgerStateValue): LedgerRow[] {
    return (this.s.byState.all(state) as { sender: string; id: string; state: LedgerStateValue; envelope: Buffer | null; verified: number }[]).map((r) => ({
      sender: r.sender,
      id: r.id,
      state: r.state,
      envelope: r.envelope ? new Uint8Array(r.envelope) : new Uint8Array(),
      verified: r.verified === 1,
    }));
  }

  /** What happened to a message, if it was claimed. */
  outcomeOf(sender: string, id: string): { state: LedgerStateValue; outcome?: unknown } | undefined {
    const r = this.s.outcome.get(sender, id) as { state: LedgerStateValue; outcome: string | null } | undefined;
    return r && { state: r.state, outcome: r.outcome ? JSON.parse(r.outcome) : undefined };
  }

  size(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM handled").get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
