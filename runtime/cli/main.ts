// The `fleet` command: argument parsing (node:util parseArgs), help everywhere, --json on
// every command, and one readable line plus a non-zero exit code on any error.
import { parseArgs } from "node:util";
import { registerNodeCrypto } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { type Command, type CommandContext, GLOBAL_HELP, GLOBAL_OPTIONS } from "./command.js";
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
import { fleetHome } from "./home.js";
import { errorLine, makeOutput } from "./output.js";

export const COMMANDS: Command[] = [demo, keygen, keys, hub, ping, send, broadcast, inbox, registry, bottle, group, sign, verify, status, token, bridge, threads, thread, mcp, serve];

function help(cmd?: Command, path = "fleet"): string {
  if (!cmd) {
    const rows = COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n");
    return `fleet: the Fleet Protocol command line\n\nUsage: fleet COMMAND [options]\n\nCommands:\n${rows}\n\n${GLOBAL_HELP}\n\nRun \`fleet COMMAND --help\` for a command's options.`;
  }
  const subs = cmd.sub ? `\n\nSubcommands:\n${cmd.sub.map((s) => `  ${s.name.padEnd(8)} ${s.summary}\n           ${s.usage}`).join("\n")}` : "";
  return `${path} ${cmd.name}: ${cmd.summary}\n\nUsage: ${cmd.usage}${subs}\n\n${GLOBAL_HELP}`;
}

/** Runs the CLI; returns the exit code (0 ok, 1 error, 2 usage). */
export async function main(argv: string[], opts: { write?: (s: string) => void; writeErr?: (s: string) => void } = {}): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const writeErr = opts.writeErr ?? ((s: string) => process.stderr.write(s));
  const json = argv.includes("--json");
  try {
    const [name, ...rest] = argv;
    if (!name || name === "--help" || name === "-h" || name === "help" || name === "--json") {
      write(help() + "\n");
      return name ? 0 : 2;
    }
    let cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `unknown command ${JSON.stringify(name)} (fleet --help lists them)`);
    let args = rest;
    let path = "fleet";
    if (cmd.sub) {
      const subName = args[0];
      const sub = cmd.sub.find((s) => s.name === subName);
      if (!sub) {
        if (args.includes("--help") || args.includes("-h") || !subName) {
          write(help(cmd) + "\n");
          return subName || args.length ? 0 : 2;
        }
        throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `unknown subcommand ${JSON.stringify(subName)} of ${cmd.name} (${cmd.sub.map((s) => s.name).join(", ")})`);
      }
      path = `fleet ${cmd.name}`;
      cmd = sub;
      args = args.slice(1);
    }
    let parsed;
    try {
      parsed = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...(cmd.options ?? {}) }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${(e as Error).message} (see ${path} ${cmd.name} --help)`);
    }
    if (parsed.values.help) {
      write(help(cmd, path) + "\n");
      return 0;
    }
    const home = fleetHome(parsed.values.home as string | undefined);
    // --nats reaches runtime/cli/connect.ts (the one connection factory) like $FLEET_NATS.
    if (typeof parsed.values.nats === "string") process.env.FLEET_NATS = parsed.values.nats;
    let stop: () => void = () => {};
    const interrupted = new Promise<void>((r) => (stop = r));
    const onSignal = () => stop();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const ctx: CommandContext = { home, out: makeOutput(json, write), values: parsed.values as CommandContext["values"], positionals: parsed.positionals, interrupted };
    try {
      await cmd.run!(ctx);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    return 0;
  } catch (e) {
    const line = errorLine(e, json);
    if (json) write(line + "\n");
    else writeErr(line + "\n");
    return e instanceof FleetError && e.code === ErrorCode.VALIDATION_OUT_OF_RANGE && /unknown (sub)?command|see fleet/.test(e.message) ? 2 : 1;
  }
}

// Node's crypto makes Ed25519 fast on the command line and in the hub.
const nodeCrypto = await import("node:crypto");
registerNodeCrypto(nodeCrypto as never);

if (process.argv[1] && /fleet(\.js)?$|cli[\\/]main\.ts$/.test(process.argv[1])) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
