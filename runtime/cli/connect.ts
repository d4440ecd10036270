// The single place the CLI opens a connection from its options and the fleet home:
// --hub HOST:PORT (or config.json's hub, else 127.0.0.1:7420) as the identity --agent.
import { readFileSync } from "node:fs";
import { type AgentRole } from "../../generated/proto/fleet/v1/registry_pb.js";
import { connectHub, DEFAULT_HUB_PORT } from "../client/hub-client.js";
import type { HubConnection } from "../client/connection.js";
import { connectNats, NatsFleetConnection } from "../nats/connection.js";
import { ErrorCode, isFleetError } from "../errors.js";
import { CliError } from "./cli-error.js";
import { fileError } from "./files.js";
import { type CommandContext, str } from "./command.js";
import { loadIdentity } from "./identities.js";
import { parseHubAddress, readConfig } from "./home.js";
import { pinnedPeers } from "./peers.js";
import { replayStoreFor } from "../node/replay-store.js";

export interface ConnectOptions {
  home: string;
  agent?: string;
  hub?: string;
  capabilities?: string[];
  /** Grants ("fleet1." text) for granted capabilities (spec/capabilities.md); hub connections only. */
  grants?: string[];
  groups?: string[];
  role?: AgentRole;
  /** File holding an admission token (--token-file; else $FLEET_TOKEN_FILE or $FLEET_TOKEN). */
  tokenFile?: string;
}

/** The admission token for hubs run with --require-token, if one was given. */
export function admissionToken(o: Pick<ConnectOptions, "tokenFile">): string | undefined {
  const file = o.tokenFile || process.env.FLEET_TOKEN_FILE;
  if (!file) return process.env.FLEET_TOKEN || undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    throw fileError(file, e);
  }
}

export function hubAddress(home: string, explicit?: string): { host: string; port: number } {
  const text = explicit || process.env.FLEET_HUB || readConfig(home).hub;
  return text ? parseHubAddress(text) : { host: "127.0.0.1", port: DEFAULT_HUB_PORT };
}

/** NATS instead of a hub: --nats URL / $FLEET_NATS, a --hub given as nats://..., or config.json's "nats". */
export function natsUrl(home: string, explicitHub?: string): string | undefined {
  if (explicitHub?.startsWith("nats://")) return explicitHub;
  return process.env.FLEET_NATS || (explicitHub ? undefined : (readConfig(home) as { nats?: string }).nats);
}

export async function openConnection(o: ConnectOptions): Promise<HubConnection | NatsFleetConnection> {
  const identity = loadIdentity(o.home, o.agent);
  // Every `fleet` run is a new process: seen ids are kept on disk (FLEET_HOME/replay), so a
  // replayed message is refused by the next run too.
  const replayStore = replayStoreFor(o.home, identity.agent);
  const nats = natsUrl(o.home, o.hub);
  if (nats) return connectNats({ url: nats, identity, keys: pinnedPeers(o.home), capabilities: o.capabilities, groups: o.groups, replayStore });
  const { host, port } = hubAddress(o.home, o.hub);
  // A command does one thing and exits: no reconnection behind its back.
  return connectHub({ host, port, identity, keys: pinnedPeers(o.home), capabilities: o.capabilities, grants: o.grants, groups: o.groups, role: o.role, admissionToken: admissionToken(o), replayStore, reconnect: false }).catch((e: unknown) => {
    throw staleAddress(o, e) ?? e;
  });
}

/**
 * Nobody answers at config.json's hub address: say whether the hub that wrote it has
 * exited (a stale address), rather than only "unreachable".
 */
function staleAddress(o: ConnectOptions, e: unknown): CliError | undefined {
  if (!isFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE) || !/cannot reach hub/.test(e.message)) return undefined;
  if (o.hub || process.env.FLEET_HUB) return undefined;
  const cfg = readConfig(o.home);
  if (!cfg.hub) return undefined;
  const gone = cfg.hubPid !== undefined && !processAlive(cfg.hubPid);
  return new CliError(`no hub answers at ${cfg.hub}, the address in ${o.home}/config.json${gone ? ` (written by a hub, pid ${cfg.hubPid}, that is no longer running: start one with \`fleet hub\` or pass --hub HOST:PORT)` : " (start one with `fleet hub` or pass --hub HOST:PORT)"}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What carries this connection's messages, for what the CLI prints: "the hub" or "NATS". */
export function carrierName(conn: HubConnection | NatsFleetConnection): string {
  return conn instanceof NatsFleetConnection ? "NATS" : "the hub";
}

/** A connection for a command: its --agent (or agent), --hub and --token-file. */
export function connectFor(ctx: CommandContext, extra: Partial<ConnectOptions> = {}): Promise<HubConnection | NatsFleetConnection> {
  return openConnection({ home: ctx.home, agent: str(ctx, "agent"), hub: str(ctx, "hub"), tokenFile: str(ctx, "token-file"), ...extra });
}
