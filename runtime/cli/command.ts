// The shape of one CLI command and the shared option set every command accepts.
import type { ParseArgsConfig } from "node:util";
import { ErrorCode, FleetError } from "../errors.js";
import type { Output } from "./output.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface CommandContext {
  home: string;
  out: Output;
  /** Parsed option values (strings, booleans, string arrays). */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Resolves when the user interrupts (SIGINT/SIGTERM), for long-running commands. */
  interrupted: Promise<void>;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options?: OptionSpec;
  /** Nested commands ("registry list"). */
  sub?: Command[];
  run?(ctx: CommandContext): Promise<void>;
}

export const GLOBAL_OPTIONS: OptionSpec = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  home: { type: "string" },
  hub: { type: "string" },
  nats: { type: "string" },
  agent: { type: "string" },
  "token-file": { type: "string" },
};

export const GLOBAL_HELP = `Global options:
  --json            machine-readable output (one JSON document; errors too)
  --home DIR        fleet home (default $FLEET_HOME or ~/.fleet)
  --hub HOST:PORT   hub to use (default from config.json, else 127.0.0.1:7420)
  --nats URL        use NATS instead of a hub, e.g. nats://127.0.0.1:4222 (or $FLEET_NATS, config.json "nats")
  --agent NAME      identity to act as (default: config.json's agent)
  --token-file FILE admission token for a hub run with --require-token (or $FLEET_TOKEN_FILE, $FLEET_TOKEN)
  -h, --help        this help`;

export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

export function list(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/** The positional argument at index, named NAME in the 707 when it is missing. */
export function required(ctx: CommandContext, index: number, name: string): string {
  const v = ctx.positionals[index];
  if (!v) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${name} is required`);
  return v;
}
