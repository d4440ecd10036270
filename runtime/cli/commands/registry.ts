// registry list / registry query --capability: the hub's registry, with presence.
import { type AgentRecord, AgentRole } from "../../../generated/proto/fleet/v1/registry_pb.js";
import { capabilityText } from "../../protocol/capabilities.js";
import { type Command, str } from "../command.js";
import { usageError } from "../cli-error.js";
import { connectFor } from "../connect.js";

function show(a: AgentRecord, online: boolean) {
  return { agent: a.agentId, key_id: a.keyId, online, role: a.role ? AgentRole[a.role].toLowerCase() : undefined, capabilities: a.capabilities.map(capabilityText), groups: a.groups };
}

/** Rows padded to their columns' widths (the last column is not padded). */
export function table(head: string[], rows: string[][]): string[] {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

async function query(ctx: Parameters<NonNullable<Command["run"]>>[0], q: { capability?: string; onlineOnly?: boolean }) {
  const conn = await connectFor(ctx);
  try {
    const all = await conn.queryRegistry(q);
    const online = new Set((await conn.queryRegistry({ ...q, onlineOnly: true })).agents.map((a) => a.agentId));
    const agents = all.agents.map((a) => show(a, online.has(a.agentId)));
    if (agents.length) for (const row of table(["AGENT", "PRESENCE", "KEY", "CAPABILITIES", "GROUPS"], agents.map((a) => [a.agent, a.online ? "online" : "offline", a.key_id, a.capabilities.join(",") || "-", a.groups.join(",") || "-"]))) ctx.out.line(row);
    else ctx.out.line("no agents");
    ctx.out.result({ ok: true, agents });
  } finally {
    await conn.close();
  }
}

export const registry: Command = {
  name: "registry",
  summary: "list agents, or find agents by capability",
  usage: "fleet registry list [--online] | fleet registry query --capability NAME [--online]",
  sub: [
    { name: "list", summary: "every agent the hub knows, with presence", usage: "fleet registry list [--online] [--capability-policy FILE (with --nats)]", options: { online: { type: "boolean" }, "capability-policy": { type: "string" } }, run: (ctx) => query(ctx, { onlineOnly: Boolean(ctx.values.online) }) },
    {
      name: "query",
      summary: "agents offering a capability",
      usage: "fleet registry query --capability NAME [--online] [--capability-policy FILE (with --nats)]",
      options: { capability: { type: "string" }, online: { type: "boolean" }, "capability-policy": { type: "string" } },
      run: (ctx) => {
        const capability = str(ctx, "capability");
        if (!capability) throw usageError("--capability NAME is required (see fleet registry query --help)");
        return query(ctx, { capability, onlineOnly: Boolean(ctx.values.online) });
      },
    },
  ],
};
