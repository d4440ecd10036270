// The shape of one CLI command and the shared option set every command accepts.
import type { ParseArgsConfig } from "node:util";
import { usageError } from "./cli-error.js";
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
  /** "send", "registry list": for messages that point at `fleet COMMAND --help`. */
  command?: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options?: OptionSpec;
  /** Nested commands ("registry list"). Global options (args.ts) are not listed here. */
  sub?: Command[];
  run?(ctx: CommandContext): Promise<void>;
}

export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

export function list(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/** The positional argument at index; a usage error (exit 2) naming NAME when it is missing. */
export function required(ctx: CommandContext, index: number, name: string): string {
  const v = ctx.positionals[index];
  if (!v) throw usageError(`${name} is required (see fleet ${ctx.command ?? ""} --help)`.replace("fleet  ", "fleet "));
  return v;
}

/**
 * A numeric option: undefined when absent, else a finite number within [min, max] (and a
 * whole number when integer). Anything else (`--wait abc`, `--uses -1`) is a usage error.
 */
export function numberOption(ctx: CommandContext, name: string, o: { min?: number; max?: number; integer?: boolean; what?: string } = {}): number | undefined {
  const raw = str(ctx, name);
  if (raw === undefined) return undefined;
  const n = raw.trim() === "" ? NaN : Number(raw);
  const min = o.min ?? 0;
  const ok = Number.isFinite(n) && n >= min && (o.max === undefined || n <= o.max) && (!o.integer || Number.isInteger(n));
  if (!ok) {
    const range = o.max === undefined ? `>= ${min}` : `from ${min} to ${o.max}`;
    throw usageError(`--${name} must be ${o.integer ? "a whole number" : "a number"} ${range}${o.what ? ` (${o.what})` : ""}, got ${JSON.stringify(raw)}`);
  }
  return n;
}
