// The hub's durable state in SQLite (better-sqlite3): offline inboxes, the dedupe window,
// bottles and their delivery state, registry entries, pinned keys and token uses.
// WAL with synchronous=FULL: a committed write survives SIGKILL and power loss, so a
// receipt sent after commit() is a promise the hub can keep. Any write failure (read-only
// directory, full disk, closed database) is FleetError 808 and nothing is acknowledged.
import Database from "better-sqlite3";
import { BottleStatus } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { join } from "node:path";
import { ErrorCode, FleetError } from "../errors.js";
import { makeDirs } from "../node/dirs.js";

export interface InboxRow {
  seq: number;
  recipient: string;
  messageId: string;
  sender: string;
  /** The serialized fleet.v1.Packet exactly as it will be forwarded. */
  packet: Uint8Array;
  expiresAt: number;
  /** The recipient must acknowledge it (requires_ack); otherwise it is dropped once written out. */
  needsAck: boolean;
}

export interface BottleRow {
  bottleId: string;
  origin: string;
  recipient: string;
  /** The serialized fleet.v1.Bottle. */
  bottle: Uint8Array;
  status: number;
  reason: number;
  expiresAt: number;
  updatedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS inbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient TEXT NOT NULL, message_id TEXT NOT NULL, sender TEXT NOT NULL,
  packet BLOB NOT NULL, expires_at INTEGER NOT NULL, needs_ack INTEGER NOT NULL,
  UNIQUE (recipient, message_id));
CREATE TABLE IF NOT EXISTS dedupe (
  sender TEXT NOT NULL, message_id TEXT NOT NULL, seen_at INTEGER NOT NULL,
  PRIMARY KEY (sender, message_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedupe_seen ON dedupe (seen_at);
CREATE TABLE IF NOT EXISTS bottles (
  bottle_id TEXT NOT NULL, origin TEXT NOT NULL, recipient TEXT NOT NULL, bottle BLOB NOT NULL,
  status INTEGER NOT NULL, reason INTEGER NOT NULL, expires_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (origin, bottle_id));
CREATE TABLE IF NOT EXISTS registry (key TEXT PRIMARY KEY, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pins (agent TEXT PRIMARY KEY, public_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS revoked_keys (key_id TEXT PRIMARY KEY, agent TEXT NOT NULL, effective_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS activity (agent TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS token_uses (token_id TEXT PRIMARY KEY, uses INTEGER NOT NULL, forget_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS group_statements (grp TEXT NOT NULL, seq INTEGER NOT NULL, statement BLOB NOT NULL, public_key BLOB NOT NULL, PRIMARY KEY (grp, seq)) WITHOUT ROWID;
`;

/**
 * hub.db files written before bottles were keyed by (origin, bottle_id) have bottle_id alone
 * as the primary key: copy their rows into the new table in one transaction (rows keep their
 * origin column, so every existing bottle keeps its identity).
 */
function migrateBottleKey(db: Database.Database): void {
  const cols = db.prepare("PRAGMA table_info(bottles)").all() as { name: string; pk: number }[];
  if (cols.find((c) => c.name === "origin")?.pk) return;
  db.transaction(() => {
    db.exec(`CREATE TABLE bottles_v2 (
  bottle_id TEXT NOT NULL, origin TEXT NOT NULL, recipient TEXT NOT NULL, bottle BLOB NOT NULL,
  status INTEGER NOT NULL, reason INTEGER NOT NULL, expires_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (origin, bottle_id));
INSERT INTO bottles_v2 SELECT bottle_id, origin, recipient, bottle, status, reason, expires_at, updated_at FROM bottles;
DROP TABLE bottles;
ALTER TABLE bottles_v2 RENAME TO bottles;`);
  })();
}

function storeError(e: unknown, what: string): FleetError {
  if (e instanceof FleetError) return e;
  const code = (e as { code?: string }).code ?? "";
  const detail = e instanceof Error ? e.message : String(e);
  return new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `store ${what} failed${code ? ` (${code})` : ""}: ${detail}`, { cause: e });
}

export class HubStore {
  private readonly db: Database.Database;
  private readonly q;

  /** Opens (creating) hub.db in dir; 808 when the directory or file cannot be written. */
  constructor(readonly dir: string, options: { maxBytes?: number } = {}) {
    try {
      makeDirs(dir, 0o700, `hub store ${dir}`);
      this.db = new Database(join(dir, "hub.db"));
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = FULL");
      this.db.pragma("busy_timeout = 2000");
      this.db.exec(SCHEMA);
      migrateBottleKey(this.db);
      // A quota turns into SQLITE_FULL exactly like a full disk (also how tests simulate one).
      if (options.maxBytes) this.db.pragma(`max_page_count = ${Math.max(8, Math.ceil(options.maxBytes / (this.db.pragma("page_size", { simple: true }) as number)))}`);
      // Prove the store is writable now rather than at the first acknowledged message.
      this.db.prepare("INSERT OR REPLACE INTO token_uses (token_id, uses) VALUES ('~probe', 0)").run();
    } catch (e) {
      throw storeError(e, `open in ${dir}`);
    }
    const db = this.db;
    this.q = {
      inboxAdd: db.prepare("INSERT OR IGNORE INTO inbox (recipient, message_id, sender, packet, expires_at, needs_ack) VALUES (?, ?, ?, ?, ?, ?)"),
      inboxFor: db.prepare("SELECT seq, recipient, message_id AS messageId, sender, packet, expires_at AS expiresAt, needs_ack AS needsAck FROM inbox WHERE recipient = ? AND expires_at > ? AND seq > ? ORDER BY seq LIMIT ?"),
      inboxDel: db.prepare("DELETE FROM inbox WHERE recipient = ? AND message_id = ? RETURNING length(packet) AS n"),
      inboxBytes: db.prepare("SELECT recipient, sum(length(packet)) AS bytes FROM inbox GROUP BY recipient"),
      inboxExpire: db.prepare("DELETE FROM inbox WHERE expires_at <= ?"),
      bottleExpire: db.prepare(`DELETE FROM bottles WHERE expires_at <= ? OR (status IN (${BottleStatus.ACKNOWLEDGED}, ${BottleStatus.EXPIRED}, ${BottleStatus.FAILED}) AND updated_at <= ?)`),
      inboxCount: db.prepare("SELECT count(*) AS n FROM inbox"),
      dedupeGet: db.prepare("SELECT 1 FROM dedupe WHERE sender = ? AND message_id = ? AND seen_at > ?"),
      dedupeAdd: db.prepare("INSERT OR REPLACE INTO dedupe (sender, message_id, seen_at) VALUES (?, ?, ?)"),
      dedupeExpire: db.prepare("DELETE FROM dedupe WHERE seen_at <= ?"),
      bottlePut: db.prepare("INSERT OR IGNORE INTO bottles (bottle_id, origin, recipient, bottle, status, reason, expires_at, updated_at) VALUES (@bottleId, @origin, @recipient, @bottle, @status, @reason, @expiresAt, @updatedAt)"),
      bottleGet: db.prepare("SELECT bottle_id AS bottleId, origin, recipient, bottle, status, reason, expires_at AS expiresAt, updated_at AS updatedAt FROM bottles WHERE origin = ? AND bottle_id = ?"),
      bottlesByStatus: db.prepare("SELECT bottle_id AS bottleId, origin, recipient, bottle, status, reason, expires_at AS expiresAt, updated_at AS updatedAt FROM bottles WHERE status = ?"),
      bottlesById: db.prepare("SELECT bottle_id AS bottleId, origin, recipient, bottle, status, reason, expires_at AS expiresAt, updated_at AS updatedAt FROM bottles WHERE bottle_id = ? ORDER BY origin LIMIT 16"),
      bottleStatus: db.prepare("UPDATE bottles SET status = ?, reason = ?, updated_at = ? WHERE origin = ? AND bottle_id = ?"),
      regPut: db.prepare("INSERT OR REPLACE INTO registry (key, entry) VALUES (?, ?)"),
      regAll: db.prepare("SELECT key, entry FROM registry ORDER BY key"),
      pinGet: db.prepare("SELECT public_key AS publicKey FROM pins WHERE agent = ?"),
      pinPut: db.prepare("INSERT OR REPLACE INTO pins (agent, public_key) VALUES (?, ?)"),
      pinAll: db.prepare("SELECT agent, public_key AS publicKey FROM pins ORDER BY agent"),
      revokedAdd: db.prepare("INSERT OR REPLACE INTO revoked_keys (key_id, agent, effective_at) VALUES (?, ?, ?)"),
      revokedAll: db.prepare("SELECT key_id AS keyId, agent, effective_at AS effectiveAt FROM revoked_keys ORDER BY key_id"),
      activityAdd: db.prepare("INSERT OR IGNORE INTO activity (agent, admitted_at, active) VALUES (?, ?, 0)"),
      activityMark: db.prepare("UPDATE activity SET active = 1 WHERE agent = ? AND active = 0"),
      idleAgents: db.prepare("SELECT agent FROM activity WHERE active = 0 AND admitted_at < ? AND NOT EXISTS (SELECT 1 FROM inbox WHERE recipient = activity.agent) ORDER BY admitted_at LIMIT ?"),
      forgetAgent: db.prepare("DELETE FROM activity WHERE agent = ?"),
      pinDel: db.prepare("DELETE FROM pins WHERE agent = ?"),
      regDel: db.prepare("DELETE FROM registry WHERE key = ?"),
      tokenUses: db.prepare("SELECT uses FROM token_uses WHERE token_id = ?"),
      tokenUse: db.prepare("INSERT INTO token_uses (token_id, uses, forget_at) VALUES (?, 1, ?) ON CONFLICT (token_id) DO UPDATE SET uses = uses + 1, forget_at = excluded.forget_at"),
      tokenExpire: db.prepare("DELETE FROM token_uses WHERE forget_at > 0 AND forget_at <= ?"),
      groupPut: db.prepare("INSERT INTO group_statements (grp, seq, statement, public_key) VALUES (?, ?, ?, ?)"),
      groupAll: db.prepare("SELECT grp AS grp, seq, statement, public_key AS publicKey FROM group_statements ORDER BY grp, seq"),
    };
  }

  /** Appends a group statement (spec/groups.md) with the public key that verified it; a taken (group, seq) is 604. */
  putGroupStatement(group: string, seq: bigint, statement: Uint8Array, publicKey: Uint8Array): void {
    try {
      this.q.groupPut.run(group, seq, statement, publicKey);
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new FleetError(ErrorCode.SECURITY_REPLAY, `${group} already has a statement at seq ${seq}`, { pointer: "/seq" });
      throw storeError(e, "group statement");
    }
  }

  /** Every stored group statement, by group then seq. */
  groupStatements(): { grp: string; seq: number; statement: Uint8Array; publicKey: Uint8Array }[] {
    return this.write("read", () => (this.q.groupAll.all() as { grp: string; seq: number; statement: Buffer; publicKey: Buffer }[]).map((r) => ({ ...r, statement: new Uint8Array(r.statement), publicKey: new Uint8Array(r.publicKey) })));
  }

  /** Runs fn in one transaction (one fsync): the group commit behind every receipt. */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      throw storeError(e, "commit");
    }
  }

  private write<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw storeError(e, what);
    }
  }

  addInbox(row: Omit<InboxRow, "seq">): boolean {
    return this.write("inbox", () => this.q.inboxAdd.run(row.recipient, row.messageId, row.sender, row.packet, row.expiresAt, row.needsAck ? 1 : 0).changes === 1);
  }

  /** Unexpired rows for recipient after seq `after`, oldest first. */
  pendingFor(recipient: string, now: number, after = 0, limit = 1_000): InboxRow[] {
    return this.write("read", () =>
      (this.q.inboxFor.all(recipient, now, after, limit) as unknown as (Omit<InboxRow, "needsAck"> & { needsAck: number })[]).map((r) => ({ ...r, needsAck: r.needsAck === 1, packet: new Uint8Array(r.packet) })),
    );
  }

  /** Deletes one row; returns the bytes it held (0 when there was none). */
  removeInbox(recipient: string, messageId: string): number {
    return this.write("inbox delete", () => (this.q.inboxDel.get(recipient, messageId) as { n: number } | undefined)?.n ?? 0);
  }

  /** Stored packet bytes per recipient (what storage quotas count). */
  inboxBytes(): Map<string, number> {
    return new Map((this.q.inboxBytes.all() as { recipient: string; bytes: number }[]).map((r) => [r.recipient, r.bytes]));
  }

  inboxSize(): number {
    return (this.q.inboxCount.get() as { n: number }).n;
  }

  /** True when sender's message id was recorded within the window ending now. */
  seen(sender: string, messageId: string, since: number): boolean {
    return this.write("read", () => this.q.dedupeGet.get(sender, messageId, since) !== undefined);
  }

  remember(sender: string, messageId: string, at: number): void {
    this.write("dedupe", () => this.q.dedupeAdd.run(sender, messageId, at));
  }

  /**
   * Drops expired inbox rows, dedupe ids older than the window, and bottles a day past their
   * expiry or an hour after they reached a final status (their status stays askable that long).
   */
  sweep(now: number, dedupeSince: number): void {
    this.transaction(() => {
      this.q.inboxExpire.run(now);
      this.q.bottleExpire.run(now - 86_400_000, now - 3_600_000);
      this.q.dedupeExpire.run(dedupeSince);
      this.q.tokenExpire.run(now);
    });
  }

  putBottle(row: BottleRow): boolean {
    return this.write("bottle", () => this.q.bottlePut.run({ ...row, bottle: Buffer.from(row.bottle) }).changes === 1);
  }

  /** The bottle named (origin, bottleId) (spec/bottles.md: a bottle id is unique per origin only). */
  getBottle(origin: string, bottleId: string): BottleRow | undefined {
    const r = this.write("read", () => this.q.bottleGet.get(origin, bottleId) as BottleRow | undefined);
    return r && { ...r, bottle: new Uint8Array(r.bottle) };
  }

  /** Bottles with this id, from any origin (at most 16; status lookups then narrow by who asks). */
  bottlesById(bottleId: string): BottleRow[] {
    return this.write("read", () => (this.q.bottlesById.all(bottleId) as BottleRow[]).map((r) => ({ ...r, bottle: new Uint8Array(r.bottle) })));
  }

  bottlesWithStatus(status: number): BottleRow[] {
    return this.write("read", () => (this.q.bottlesByStatus.all(status) as BottleRow[]).map((r) => ({ ...r, bottle: new Uint8Array(r.bottle) })));
  }

  setBottleStatus(origin: string, bottleId: string, status: number, reason: number, at: number): void {
    this.write("bottle status", () => this.q.bottleStatus.run(status, reason, at, origin, bottleId));
  }

  /** Records a revoked key and drops its agent's pin, in one transaction (spec/signing.md "Revocation"). */
  revokeKey(r: { agent: string; keyId: string; effectiveAt: number }): void {
    this.transaction(() => {
      this.q.revokedAdd.run(r.keyId, r.agent, r.effectiveAt);
      this.q.pinDel.run(r.agent);
    });
  }

  revokedKeys(): { agent: string; keyId: string; effectiveAt: number }[] {
    return this.write("read", () => this.q.revokedAll.all() as { agent: string; keyId: string; effectiveAt: number }[]);
  }

  putRegistry(key: string, entry: Uint8Array): void {
    this.write("registry", () => this.q.regPut.run(key, entry));
  }

  registryEntries(): { key: string; entry: Uint8Array }[] {
    return (this.q.regAll.all() as { key: string; entry: Uint8Array }[]).map((r) => ({ key: r.key, entry: new Uint8Array(r.entry) }));
  }

  getPin(agent: string): Uint8Array | undefined {
    const r = this.q.pinGet.get(agent) as { publicKey: Uint8Array } | undefined;
    return r && new Uint8Array(r.publicKey);
  }

  putPin(agent: string, publicKey: Uint8Array): void {
    this.write("pin", () => this.q.pinPut.run(agent, publicKey));
  }

  pins(): { agent: string; publicKey: Uint8Array }[] {
    return (this.q.pinAll.all() as { agent: string; publicKey: Uint8Array }[]).map((r) => ({ agent: r.agent, publicKey: new Uint8Array(r.publicKey) }));
  }

  /** A newly pinned agent (open admission); pruned later unless it ever becomes active. */
  admitted(agent: string, at: number): void {
    this.write("activity", () => this.q.activityAdd.run(agent, at));
  }

  /** The agent sent or received something: never pruned as idle. */
  markActive(agent: string): void {
    this.write("activity", () => this.q.activityMark.run(agent));
  }

  /** Agents admitted before `before` that never did anything and have nothing waiting (at most limit). */
  idleAgents(before: number, limit: number): string[] {
    return (this.q.idleAgents.all(before, limit) as { agent: string }[]).map((r) => r.agent);
  }

  /** Deletes an idle agent's pin, its registry entry and its activity row. */
  forgetAgent(agent: string, registryKey: string): void {
    this.q.pinDel.run(agent);
    this.q.regDel.run(registryKey);
    this.q.forgetAgent.run(agent);
  }

  /** True when a limited token already has maxUses recorded uses (a read: nothing is consumed). */
  tokenUsedUp(tokenId: string, maxUses: number): boolean {
    return maxUses > 0 && ((this.q.tokenUses.get(tokenId) as { uses: number } | undefined)?.uses ?? 0) >= maxUses;
  }

  /** Records one use of a limited token (durably); false once it has maxUses uses. A TokenUseStore. */
  consume(tokenId: string, maxUses: number, forgetAfterMs: number): boolean {
    return this.transaction(() => {
      const row = this.q.tokenUses.get(tokenId) as { uses: number } | undefined;
      if (maxUses > 0 && (row?.uses ?? 0) >= maxUses) return false;
      this.q.tokenUse.run(tokenId, forgetAfterMs);
      return true;
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
