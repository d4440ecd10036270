// `fleet mcp`: serve one fleet identity to an MCP client (runtime/mcp): over stdin/stdout by
// default (nothing else is written to stdout then: status lines go to stderr), or over
// Streamable HTTP on 127.0.0.1 with --http PORT.
import { CliError, usageError } from "../cli-error.js";
import { grantsOption } from "./capability.js";
import { type Command, list, str } from "../command.js";
import { connectFor } from "../connect.js";
import { connectionLost } from "../connection-lost.js";
import { loadIdentity } from "../identities.js";

export const mcp: Command = {
  name: "mcp",
  summary: "Model Context Protocol server acting as one fleet identity (stdio, or Streamable HTTP on 127.0.0.1)",
  usage: "fleet mcp [--agent NAME] [--http PORT (0 = ephemeral)] [--capability NAME ...] [--grant GRANT|FILE ...] [--group NAME ...] [--inbox-max N (default 1000)]",
  options: { http: { type: "string" }, capability: { type: "string", multiple: true }, grant: { type: "string", multiple: true }, group: { type: "string", multiple: true }, "inbox-max": { type: "string" } },
  async run(ctx) {
    const httpPort = str(ctx, "http");
    const port = httpPort === undefined ? undefined : Number(httpPort);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw usageError("--http must be a port number (0 = ephemeral)");
    const inboxMax = Number(str(ctx, "inbox-max") ?? 1000);
    if (!(Number.isInteger(inboxMax) && inboxMax >= 1 && inboxMax <= 100_000)) throw usageError("--inbox-max must be a whole number from 1 to 100000");
    const { FleetMcp } = await loadMcp();
    const identity = loadIdentity(ctx.home, str(ctx, "agent"));
    const conn = await connectFor(ctx, { agent: identity.agent, capabilities: list(ctx, "capability"), grants: grantsOption(list(ctx, "grant")), groups: list(ctx, "group") });
    const fleet = new FleetMcp(conn, identity, { capacity: inboxMax });
    const lost = connectionLost(conn);
    lost.catch(() => {});
    try {
      if (port === undefined) {
        process.stderr.write(`fleet mcp: serving ${conn.agent} over stdio\n`);
        await Promise.race([fleet.serveStdio(), ctx.interrupted, lost]);
        return;
      }
      const http = await fleet.serveHttp({ port });
      ctx.out.line(`fleet mcp: serving ${conn.agent} at ${http.url} (Streamable HTTP)`);
      ctx.out.event({ event: "listening", agent: conn.agent, url: http.url, port: http.port, pid: process.pid });
      try {
        await Promise.race([ctx.interrupted, lost]);
      } finally {
        await http.close();
      }
    } finally {
      await fleet.close();
      await conn.close();
    }
  },
};

/** The MCP server module, loaded only by this command: `@modelcontextprotocol/sdk` and `zod` are
 * optional peer dependencies, so a core install does not carry them. */
async function loadMcp(): Promise<typeof import("../../mcp/server.js")> {
  try {
    return await import("../../mcp/server.js");
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" && /@modelcontextprotocol\/sdk|zod/.test(String((e as Error).message))) {
      throw new CliError("fleet mcp needs the optional peer dependencies @modelcontextprotocol/sdk and zod: npm install @modelcontextprotocol/sdk zod");
    }
    throw e;
  }
}
