// ping, send, broadcast, inbox: messages through the hub as the home's identity.
import type { Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { grantsOption } from "./capability.js";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { recipientText } from "../../client/address.js";
import { pingBody } from "../../client/bodies.js";
import { applicationValue } from "../../client/draft.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { usageError } from "../cli-error.js";
import { type Command, type CommandContext, list, numberOption, required, str } from "../command.js";
import { carrierName, connectFor } from "../connect.js";
import { NatsFleetConnection } from "../../nats/connection.js";
import { ReceiptStatus } from "../../../generated/proto/fleet/v1/receipt_pb.js";

const TYPES: Record<string, MessageType> = { event: MessageType.EVENT, request: MessageType.REQUEST, command: MessageType.COMMAND, query: MessageType.QUERY, status: MessageType.STATUS };

function payloadOf(ctx: CommandContext, text: string | undefined): { json?: unknown; text?: string } {
  const raw = str(ctx, "payload");
  if (raw !== undefined) {
    try {
      return { json: JSON.parse(raw) };
    } catch (e) {
      throw usageError(`--payload is not JSON: ${(e as Error).message}`);
    }
  }
  if (text === undefined) throw usageError("give a TEXT argument or --payload JSON (see fleet send --help)");
  return { text };
}

async function sendTo(ctx: CommandContext, to: string, text: string | undefined): Promise<void> {
  const type = TYPES[(str(ctx, "type") ?? "event").toLowerCase()];
  if (!type) throw usageError(`--type must be one of ${Object.keys(TYPES).join(", ")}`);
  const payload = payloadOf(ctx, text);
  const conn = await connectFor(ctx);
  try {
    const ack = !ctx.values["no-ack"];
    const id = globalThis.crypto.randomUUID();
    // A plain agent name nobody has ever registered is said so (the hub stores it for later;
    // a hub that refuses it answers with a REJECTED receipt, reported with its code).
    const known = conn instanceof NatsFleetConnection || /^(group|capability|fleet):/.test(to) ? undefined : (await conn.queryRegistry({ agentId: to })).agents.some((a) => a.agentId === to);
    const receipt = await conn.send({ to, id, type, requiresAck: ack, threadId: str(ctx, "thread"), inReplyTo: str(ctx, "in-reply-to"), ...payload });
    const where = carrierName(conn);
    const stored = conn instanceof NatsFleetConnection ? "stored by NATS (JetStream)" : "accepted by the hub";
    let line = `sent ${id} to ${to}${receipt ? `: ${stored}` : ""}`;
    if (receipt?.detail) line += ` (${receipt.detail})`;
    if (known === false) line += `; note: no agent named ${to} has ever connected to ${where}: the message waits there until ${to} connects, at most its TTL`;
    ctx.out.line(line);
    ctx.out.result({ ok: true, id, to, from: conn.agent, accepted: Boolean(receipt), recipient_known: known, receipt: receipt ? { status: ReceiptStatus[receipt.status], code: receipt.code || undefined, detail: receipt.detail || undefined } : undefined });
  } finally {
    await conn.close();
  }
}

const sendOptions = { payload: { type: "string" }, type: { type: "string" }, "no-ack": { type: "boolean" }, thread: { type: "string" }, "in-reply-to": { type: "string" } } as const;

export const send: Command = {
  name: "send",
  summary: "send a signed message to an agent (group:NAME and capability:NAME work too)",
  usage: "fleet send AGENT TEXT | fleet send AGENT --payload JSON [--type event|request|command|query|status] [--no-ack] [--thread ID] [--in-reply-to MESSAGE_ID]",
  options: sendOptions,
  async run(ctx) {
    await sendTo(ctx, required(ctx, 0, "AGENT"), ctx.positionals[1]);
  },
};

export const broadcast: Command = {
  name: "broadcast",
  summary: "send a signed message to every online agent",
  usage: "fleet broadcast TEXT | fleet broadcast --payload JSON",
  options: sendOptions,
  async run(ctx) {
    await sendTo(ctx, "fleet:broadcast", ctx.positionals[0]);
  },
};

export const ping: Command = {
  name: "ping",
  summary: "round trip to an online agent (or to the hub: `fleet ping hub`)",
  usage: "fleet ping AGENT [--count N]",
  options: { count: { type: "string" } },
  async run(ctx) {
    const target = required(ctx, 0, "AGENT");
    const count = numberOption(ctx, "count", { min: 1, max: 100, integer: true }) ?? 1;
    const conn = await connectFor(ctx);
    try {
      const to = target === "hub" || target === "fleet:hub" ? "fleet:hub" : target;
      if (to !== "fleet:hub") {
        const found = await conn.queryRegistry({ agentId: to, onlineOnly: true });
        if (!found.agents.length) throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `${to} is not online`);
      }
      const rtts: number[] = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        await conn.request({ to, type: MessageType.QUERY, sign: to !== "fleet:hub", body: pingBody({ seq: i }) }, 5_000);
        const ms = performance.now() - t0;
        rtts.push(ms);
        ctx.out.line(to === "fleet:hub" && conn instanceof NatsFleetConnection ? `pong from NATS (server round trip and this agent's inbox): ${ms.toFixed(2)} ms` : `pong from ${to}: ${ms.toFixed(2)} ms`);
      }
      ctx.out.result({ ok: true, to, rtt_ms: rtts.map((r) => Number(r.toFixed(3))) });
    } finally {
      await conn.close();
    }
  },
};

export function describe(env: Envelope, verified: boolean) {
  return {
    id: env.id,
    from: env.sender,
    to: recipientText(env.recipient),
    type: MessageType[env.type]?.toLowerCase(),
    verified,
    body: env.body?.kind.case,
    payload: applicationValue(env),
  };
}

export const inbox: Command = {
  name: "inbox",
  summary: "connect as an agent and print the messages waiting for it (then, with --follow, new ones)",
  usage: "fleet inbox --agent NAME [--wait MS] [--follow] [--capability NAME]... [--grant GRANT|FILE]... [--group NAME]...",
  options: { wait: { type: "string" }, follow: { type: "boolean" }, capability: { type: "string", multiple: true }, grant: { type: "string", multiple: true }, group: { type: "string", multiple: true } },
  async run(ctx) {
    const wait = numberOption(ctx, "wait", { what: "milliseconds" }) ?? 300;
    const capabilities = list(ctx, "capability");
    const groups = list(ctx, "group");
    const conn = await connectFor(ctx, { capabilities, groups, grants: grantsOption(list(ctx, "grant")) });
    const got: ReturnType<typeof describe>[] = [];
    conn.onMessage((env, meta) => {
      const d = describe(env, meta.verified);
      // --follow --json: one JSON object per message, one per line (JSON Lines).
      if (ctx.values.follow) ctx.out.event(d);
      else got.push(d);
      ctx.out.line(`${d.verified ? "✓" : "·"} ${d.from} -> ${d.to} [${d.type}] ${typeof d.payload === "string" ? d.payload : JSON.stringify(d.payload ?? d.body)}  (${d.id})`);
    });
    try {
      // The hub writes the stored backlog right after the handshake; a ping answered after
      // it marks its end, and a short quiet period catches stragglers.
      await conn.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: pingBody() }, 5_000);
      await new Promise((r) => setTimeout(r, wait));
      if (ctx.values.follow) await ctx.interrupted;
      if (!got.length && !ctx.values.follow) ctx.out.line(`no messages for ${conn.agent}`);
      if (!ctx.values.follow) ctx.out.result({ ok: true, agent: conn.agent, messages: got });
    } finally {
      await conn.close();
    }
  },
};
