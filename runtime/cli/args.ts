// The command line, split: global options are taken from anywhere (before the command,
// between a command and its subcommand, or after), then the command, its subcommand and
// its own options, parsed strictly (node:util parseArgs). Every problem is a usage error
// (exit 2) on one line.
import { parseArgs } from "node:util";
import { usageError } from "./cli-error.js";
import type { Command, OptionSpec } from "./command.js";

/** Global options: string-valued ones and flags. */
export const GLOBAL_STRINGS = ["home", "hub", "nats", "agent", "token-file"] as const;
export const GLOBAL_FLAGS = ["json", "help", "version"] as const;

export interface ParsedLine {
  globals: Record<string, string | boolean>;
  /** The command, and the subcommand when it has them; undefined when none was given. */
  command?: Command;
  path: string;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function splitGlobals(argv: string[]): { globals: Record<string, string | boolean>; rest: string[] } {
  const globals: Record<string, string | boolean> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (t === "-h") {
      globals.help = true;
      continue;
    }
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(t);
    if (m && (GLOBAL_FLAGS as readonly string[]).includes(m[1]!)) {
      if (m[2] !== undefined) throw usageError(`--${m[1]} takes no value`);
      globals[m[1]!] = true;
      continue;
    }
    if (m && (GLOBAL_STRINGS as readonly string[]).includes(m[1]!)) {
      const value = m[2] ?? argv[++i];
      if (value === undefined || (m[2] === undefined && value.startsWith("--"))) throw usageError(`--${m[1]} needs a value (see fleet --help)`);
      globals[m[1]!] = value;
      continue;
    }
    rest.push(t);
  }
  return { globals, rest };
}

/** `--uses -1`: a string option followed by a negative number takes it as its value (then validated). */
function joinNegativeValues(args: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!;
    const name = /^--([^=]+)$/.exec(t)?.[1];
    const next = args[i + 1];
    if (name && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${t}=${next}`);
      i++;
    } else out.push(t);
  }
  return out;
}

const firstPositional = (args: string[]) => args.findIndex((a) => !a.startsWith("-"));

export function parseLine(argv: string[], commands: Command[]): ParsedLine {
  const { globals, rest } = splitGlobals(argv);
  let i = firstPositional(rest);
  if (i < 0) {
    if (rest.length) throw usageError(`${JSON.stringify(rest[0])} is not a global option; put it after a command (fleet --help lists commands and global options)`);
    return { globals, path: "fleet", values: {}, positionals: [] };
  }
  if (i > 0) throw usageError(`${JSON.stringify(rest[0])} is not a global option; put it after the command`);
  const name = rest[0]!;
  let cmd = commands.find((c) => c.name === name);
  if (!cmd) throw usageError(`unknown command ${JSON.stringify(name)} (fleet --help lists them)`);
  let args = rest.slice(1);
  let path = `fleet ${cmd.name}`;
  if (cmd.sub) {
    i = firstPositional(args);
    const sub = i < 0 ? undefined : cmd.sub.find((s) => s.name === args[i]);
    if (!sub) {
      if (i < 0) return { globals, command: cmd, path, values: {}, positionals: [] }; // help for the group
      throw usageError(`unknown subcommand ${JSON.stringify(args[i])} of ${cmd.name} (${cmd.sub.map((s) => s.name).join(", ")})`);
    }
    args = [...args.slice(0, i), ...args.slice(i + 1)];
    cmd = sub;
    path = `${path} ${sub.name}`;
  }
  const options = cmd.options ?? {};
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(args, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages can run over several lines: the first says what is wrong.
    const first = String((e as Error).message).split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
    throw usageError(`${first} (see ${path} --help)`);
  }
  return { globals, command: cmd, path, values: parsed.values as ParsedLine["values"], positionals: parsed.positionals };
}
