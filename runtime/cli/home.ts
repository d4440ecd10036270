// The fleet home directory (FLEET_HOME, default ~/.fleet): keys/ (0600 identity files),
// config.json (hub address, default agent), peers.json (pinned peer keys), hub/ (hub.db).
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError, usageError } from "./cli-error.js";
import { ErrorCode, FleetError } from "../errors.js";
import { makeDirs, pathExists } from "../node/dirs.js";

export interface FleetConfig {
  /** "host:port" of the hub clients connect to. */
  hub?: string;
  /** The identity commands act as when --agent is not given. */
  agent?: string;
  /** The process id of the hub that wrote `hub` (to tell a stale address from a hub that is down). */
  hubPid?: number;
}

export function fleetHome(explicit?: string): string {
  return explicit ?? process.env.FLEET_HOME ?? join(homedir(), ".fleet");
}

/** Creates the home if needed; 808 with the reason (ENOENT under /proc, EACCES ...) when it is unusable. */
export function ensureHome(home: string): string {
  makeDirs(home, 0o700, `fleet home ${home}`);
  return home;
}

/** Reads a JSON file of the home, or fallback when absent; 701 when it is not JSON. */
export function readJson<T>(path: string, fallback: T): T {
  if (!pathExists(path)) return fallback;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CliError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Writes a file the user asked for (signatures, tokens); 808 with the errno when it cannot. */
export function writeOutput(path: string, text: string, mode = 0o644): void {
  try {
    writeFileSync(path, text, { mode });
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Atomic write (temp file + rename), owner-only. */
export function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

export const configPath = (home: string) => join(home, "config.json");

export function readConfig(home: string): FleetConfig {
  return readJson<FleetConfig>(configPath(home), {});
}

export function updateConfig(home: string, patch: Partial<FleetConfig>): FleetConfig {
  ensureHome(home);
  const next = { ...readConfig(home), ...patch };
  writeJson(configPath(home), next);
  return next;
}

/** "host:port" -> parts; a bare port means loopback. */
export function parseHubAddress(text: string): { host: string; port: number } {
  const m = /^(?:([^:]+):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw usageError(`hub address must be host:port, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? "127.0.0.1", port };
}
