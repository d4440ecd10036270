// registry list / registry query --capability: the hub's registry, with presence.
import { type AgentRecord, AgentRole } from "../../../generated/proto/fleet/v1/registry_pb.js";
import { capabilityText } from "../../protocol/capabilities.js";
import { type Command, str } from "../command.js";
import { connectFor } from "../connect.js";

function show(a: AgentRecord, online: boolean) {
  return { agent: a.agentId, key_id: a.keyId, online, role: a.role ? AgentRole[a.role].toLowerCase() : undefined, capabilities: a.capabilities.map(capabilityText), groups: a.groups };
}

async function query(ctx: Parameters<NonNullable<Command["run"]>>[0], q: { capability?: string; onlineOnly?: boolean }) {
  const conn = await connectFor(ctx);
  try {
    const all = await conn.queryRegistry(q);
    const online = new Set((await conn.queryRegistry({ ...q, onlineOnly: true })).agents.map((a) => a.agentId));
    const agents = all.agents.map((a) => show(a, online.has(a.agentId)));
    for (const a of agents) ctx.out.line(`${a.online ? "online " : "offline"}  ${a.agent}  ${a.key_id}${a.capabilities.length ? `  caps: ${a.capabilities.join(",")}` : ""}${a.groups.length ? `  groups: ${a.groups.join(",")}` : ""}`);
    if (!agents.length) ctx.out.line("no agents");
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
    { name: "list", summary: "every agent the hub knows, with presence", usage: "fleet registry list [--online]", options: { online: { type: "boolean" } }, run: (ctx) => query(ctx, { onlineOnly: Boolean(ctx.values.online) }) },
    {
      name: "query",
      summary: "agents offering a capability",
      usage: "fleet registry query --capability NAME [--online]",
      options: { capability: { type: "string" }, online: { type: "boolean" } },
      run: (ctx) => query(ctx, { capability: str(ctx, "capability") ?? "", onlineOnly: Boolean(ctx.values.online) }),
    },
  ],
};
