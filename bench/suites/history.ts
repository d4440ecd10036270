// The hub's history (runtime/hub/history.ts) is written for every routed message: messages
// recorded per second at its bound (every insert also drops the oldest), beside the plain
// SQLite insert of the same row (its anchor), and the reads behind `fleet thread` / `threads`.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { History } from "../../runtime/hub/history.js";
import type { BenchRow, BenchSuite } from "../harness.js";

const N = 60_000;
const MAX = 20_000;
const PACKET = new Uint8Array(300).fill(7);

function rate(n: number, fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (n / (performance.now() - t0)) * 1000;
}

export const suite: BenchSuite = {
  name: "history",
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), "fleet-bench-history-"));
    try {
      const raw = new Database(join(dir, "raw.db"));
      raw.pragma("journal_mode = WAL");
      raw.pragma("synchronous = OFF");
      raw.exec("CREATE TABLE m (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT, sender TEXT, packet BLOB)");
      const ins = raw.prepare("INSERT INTO m (id, sender, packet) VALUES (?, ?, ?)");
      const plain = rate(N, () => raw.transaction(() => { for (let i = 0; i < N; i++) ins.run(`m-${i}`, "alpha", PACKET); })());
      raw.close();

      const h = new History(join(dir, "h"), { maxMessages: MAX });
      const recorded = rate(N, () => {
        for (let i = 0; i < N; i++) h.record({ id: `m-${i}`, sender: "alpha", recipients: ["beta"], threadId: `t-${i % 500}`, inReplyTo: "", packet: PACKET, signed: true, at: Date.now() });
        h.flush();
      });
      const reads = rate(200, () => { for (let i = 0; i < 200; i++) h.thread("beta", `t-${i}`, { limit: 50 }); });
      const lists = rate(20, () => { for (let i = 0; i < 20; i++) h.threads("beta", 50); });
      h.close();
      return [
        { suite: "history", name: "plain SQLite insert (300-byte row)", rate: plain, unit: "msg/s" },
        { suite: "history", name: `history record at its bound (${MAX} kept, 2 parties)`, rate: recorded, unit: "msg/s", anchor: "plain SQLite insert (300-byte row)" },
        { suite: "history", name: "read a thread (50 messages)", rate: reads, unit: "ops/s" },
        { suite: "history", name: `list threads (${MAX} messages kept)`, rate: lists, unit: "ops/s" },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
