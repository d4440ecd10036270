// The single place the CLI opens a connection from its options and the fleet home:
// --hub HOST:PORT (or config.json's hub, else 127.0.0.1:7420) as the identity --agent.
import { readFileSync } from "node:fs";
import { type AgentRole } from "../../generated/proto/fleet/v1/registry_pb.js";
import { connectHub, DEFAULT_HUB_PORT } from "../client/hub-client.js";
import type { HubConnection } from "../client/connection.js";
import { connectNats, type NatsFleetConnection } from "../nats/connection.js";
import { ErrorCode, FleetError } from "../errors.js";
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
    throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `cannot read token file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
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
  return connectHub({ host, port, identity, keys: pinnedPeers(o.home), capabilities: o.capabilities, groups: o.groups, role: o.role, admissionToken: admissionToken(o), replayStore });
}

/** A connection for a command: its --agent (or agent), --hub and --token-file. */
export function connectFor(ctx: CommandContext, extra: Partial<ConnectOptions> = {}): Promise<HubConnection | NatsFleetConnection> {
  return openConnection({ home: ctx.home, agent: str(ctx, "agent"), hub: str(ctx, "hub"), tokenFile: str(ctx, "token-file"), ...extra });
}
