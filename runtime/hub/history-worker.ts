// The history's writer thread (history-client.ts starts it): owns history.db, so the hub's
// event loop never waits for SQLite to record what it routed. Messages: record (a batch),
// query (threads, thread, size, sweep), close.
import { parentPort, workerData } from "node:worker_threads";
import { asFleetError, ErrorCode } from "../errors.js";
import { History, type HistoryOptions, type HistoryRecord } from "./history.js";

type Query = { type: "query"; id: number; op: "threads"; agent: string; limit: number } | { type: "query"; id: number; op: "thread"; agent: string; threadId: string; limit?: number; before?: number } | { type: "query"; id: number; op: "size" | "sweep" };
type Incoming = { type: "record"; records: HistoryRecord[] } | Query | { type: "close" };

const { dir, options } = workerData as { dir: string; options: HistoryOptions };
const history = new History(dir, options);
const port = parentPort!;

port.on("message", (m: Incoming) => {
  if (m.type === "record") {
    for (const r of m.records) history.record(r);
    history.flush();
    port.postMessage({ type: "recorded", n: m.records.length });
    return;
  }
  if (m.type === "close") {
    history.close();
    port.postMessage({ type: "closed" });
    return;
  }
  try {
    const result =
      m.op === "threads" ? history.threads(m.agent, m.limit) : m.op === "thread" ? history.thread(m.agent, m.threadId, { limit: m.limit, before: m.before }) : m.op === "size" ? history.size() : (history.sweep(), null);
    port.postMessage({ type: "result", id: m.id, result });
  } catch (e) {
    const err = asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "history");
    port.postMessage({ type: "result", id: m.id, error: { code: err.code, message: err.message, pointer: err.pointer } });
  }
});
