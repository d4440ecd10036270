// A durable ReplayStore (crypto/replay.ts) in SQLite, for receivers whose replay protection
// must survive a process restart: the CLI (every `fleet` run is a new process) and any
// agent that asks (connectHub({ replayStore }) / connectNats). One small database per agent
// (FLEET_HOME/replay/<agent>.db, 0600), WAL, one row per remembered (sender, id) until the
// instant a copy would fail the time checks anyway. Bounded by the guard's maxEntries
// (full means 804, never "deliver anyway"); expired rows are pruned when it fills.
import Database from "better-sqlite3";
import { chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ReplayStore } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { makeDirs } from "./dirs.js";

export class SqliteReplayStore implements ReplayStore {
  private readonly db: Database.Database;
  private readonly q;
  private count: number;

  /** Opens (creating) the database at file; 808 when it cannot be opened or written. */
  constructor(readonly file: string) {
    try {
      makeDirs(dirname(file), 0o700, "replay store");
      this.db = new Database(file);
      chmodSync(file, 0o600);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("busy_timeout = 2000");
      this.db.exec("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX IF NOT EXISTS seen_until ON seen (until);");
    } catch (e) {
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `replay store ${file}: ${(e as Error).message}`, { cause: e });
    }
    this.q = {
      get: this.db.prepare("SELECT until FROM seen WHERE key = ?"),
      set: this.db.prepare("INSERT OR REPLACE INTO seen (key, until) VALUES (?, ?)"),
      count: this.db.prepare("SELECT count(*) AS n FROM seen"),
      prune: this.db.prepare("DELETE FROM seen WHERE until < ?"),
      earliest: this.db.prepare("SELECT min(until) AS m FROM seen"),
    };
    this.count = (this.q.count.get() as { n: number }).n;
  }

  get(key: string): number | undefined {
    return (this.q.get.get(key) as { until: number } | undefined)?.until;
  }

  set(key: string, until: number): void {
    try {
      const existed = this.get(key) !== undefined;
      this.q.set.run(key, until);
      if (!existed) this.count++;
    } catch (e) {
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `replay store write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  get size(): number {
    return this.count;
  }

  prune(now: number): number {
    this.q.prune.run(now);
    this.count = (this.q.count.get() as { n: number }).n;
    return (this.q.earliest.get() as { m: number | null }).m ?? Infinity;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The replay store of one agent in a fleet home: FLEET_HOME/replay/<agent>.db. */
export function replayStoreFor(home: string, agent: string): SqliteReplayStore {
  return new SqliteReplayStore(join(home, "replay", `${encodeURIComponent(agent).replace(/^\./, "%2E")}.db`));
}
