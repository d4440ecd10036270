// `fleet threads` and `fleet thread ID`: the hub's history as this agent sees it (spec/history.md).
import { presentMessage, messageLine } from "../../agent/present.js";
import { listThreads, readThread } from "../../client/history.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { type Command, required, str } from "../command.js";
import { connectFor } from "../connect.js";

function limitOf(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--limit must be a whole number from 1 to 200");
  return n;
}

export const threads: Command = {
  name: "threads",
  summary: "the conversation threads this agent took part in (the hub's history), most recent first",
  usage: "fleet threads [--agent NAME] [--limit N]",
  options: { limit: { type: "string" } },
  async run(ctx) {
    const limit = limitOf(str(ctx, "limit"), 50);
    const conn = await connectFor(ctx);
    try {
      const list = await listThreads(conn, limit);
      for (const t of list) ctx.out.line(`${t.thread_id}  ${t.messages} message(s), last ${new Date(t.last_at).toISOString()}, with ${t.participants.filter((p) => p !== conn.agent).join(", ") || "nobody else"}`);
      if (!list.length) ctx.out.line(`no threads for ${conn.agent}`);
      ctx.out.result({ ok: true, agent: conn.agent, threads: list });
    } finally {
      await conn.close();
    }
  },
};

export const thread: Command = {
  name: "thread",
  summary: "read one thread: the messages of it this agent sent or received, oldest first, each signature checked",
  usage: "fleet thread ID [--agent NAME] [--limit N] [--before SEQ]",
  options: { limit: { type: "string" }, before: { type: "string" } },
  async run(ctx) {
    const id = required(ctx, 0, "ID");
    const limit = limitOf(str(ctx, "limit"), 200);
    const before = str(ctx, "before") === undefined ? undefined : Number(str(ctx, "before"));
    if (before !== undefined && !(Number.isInteger(before) && before > 0)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--before must be a positive whole number (a seq from an earlier page)");
    const conn = await connectFor(ctx);
    try {
      const t = await readThread(conn, id, { limit, before });
      const messages = t.messages.map((m) => ({ seq: m.seq, at: m.at, recipients: m.recipients, ...presentMessage(m.env, m.verified) }));
      for (const m of messages) ctx.out.line(messageLine(m));
      if (t.more) ctx.out.line(`(older messages: fleet thread ${id} --before ${messages[0]?.seq})`);
      ctx.out.result({ ok: true, agent: conn.agent, thread_id: id, messages, more: t.more });
    } finally {
      await conn.close();
    }
  },
};
