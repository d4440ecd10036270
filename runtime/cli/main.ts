// The `fleet` command: the command line (args.ts: global options anywhere, --version),
// help everywhere (help.ts), --json on every command, and one readable line plus a non-zero
// exit code on any error: 2 for usage errors, 1 for failures. What the CLI itself refuses
// is a CliError (no protocol code); what the protocol reports keeps its FleetError code.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { registerNodeCrypto } from "../crypto/index.js";
import { parseLine } from "./args.js";
import { CliError } from "./cli-error.js";
import { type Command, type CommandContext } from "./command.js";
import { helpText } from "./help.js";
import { bottle } from "./commands/bottle.js";
import { group } from "./commands/group.js";
import { bridge } from "./commands/bridge.js";
import { demo } from "./commands/demo.js";
import { hub, status } from "./commands/hub.js";
import { keys } from "./commands/key-rotation.js";
import { keygen, sign, verify } from "./commands/keys.js";
import { broadcast, inbox, ping, send } from "./commands/messaging.js";
import { registry } from "./commands/registry.js";
import { mcp } from "./commands/mcp.js";
import { serve } from "./commands/serve.js";
import { thread, threads } from "./commands/threads.js";
import { token } from "./commands/token.js";
import { capability } from "./commands/capability.js";
import { fleetHome } from "./home.js";
import { errorLine, makeOutput } from "./output.js";

export const COMMANDS: Command[] = [demo, keygen, keys, hub, ping, send, broadcast, inbox, registry, bottle, group, capability, sign, verify, status, token, bridge, threads, thread, mcp, serve];

/** This package's version (package.json, found upward from this file). */
export function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "fleet-protocol" && pkg.version) return pkg.version;
    } catch {
      // not here
    }
    dir = dirname(dir);
  }
  return "unknown";
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[], opts: { write?: (s: string) => void; writeErr?: (s: string) => void } = {}): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const writeErr = opts.writeErr ?? ((s: string) => process.stderr.write(s));
  let json = argv.includes("--json");
  try {
    const line = parseLine(argv, COMMANDS);
    const g = line.globals;
    json = g.json === true;
    if (g.version) {
      const v = version();
      write(json ? `${JSON.stringify({ ok: true, version: v })}\n` : `fleet ${v}\n`);
      return 0;
    }
    const cmd = line.command;
    if (!cmd || g.help || !cmd.run) {
      write(helpText(COMMANDS, cmd, line.path) + "\n");
      // Asking for help is not an error; `fleet` or `fleet registry` alone is a usage error.
      return g.help ? 0 : 2;
    }
    const home = fleetHome(g.home as string | undefined);
    // --nats reaches runtime/cli/connect.ts (the one connection factory) like $FLEET_NATS.
    if (typeof g.nats === "string") process.env.FLEET_NATS = g.nats;
    let stop: () => void = () => {};
    const interrupted = new Promise<void>((r) => (stop = r));
    const onSignal = () => stop();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const values = { ...line.values, ...g } as CommandContext["values"];
    const ctx: CommandContext = { home, out: makeOutput(json, write), values, positionals: line.positionals, interrupted, command: line.path.replace(/^fleet /, "") };
    try {
      await cmd.run(ctx);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    return 0;
  } catch (e) {
    const text = errorLine(e, json);
    if (json) write(text + "\n");
    else writeErr(text + "\n");
    return e instanceof CliError ? e.exitCode : 1;
  }
}

// Node's crypto makes Ed25519 fast on the command line and in the hub.
const nodeCrypto = await import("node:crypto");
registerNodeCrypto(nodeCrypto as never);

if (process.argv[1] && /fleet(\.js)?$|cli[\\/]main\.ts$/.test(process.argv[1])) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
