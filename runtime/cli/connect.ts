// The single place the CLI opens a connection from its options and the fleet home:
// --hub HOST:PORT (or config.json's hub, else 127.0.0.1:7420) as the identity --agent.
import { type AgentRole } from "../../generated/proto/fleet/v1/registry_pb.js";
import { connectHub, DEFAULT_HUB_PORT } from "../client/hub-client.js";
import type { HubConnection } from "../client/connection.js";
import { loadIdentity } from "./identities.js";
import { parseHubAddress, readConfig } from "./home.js";
import { pinnedPeers } from "./peers.js";

export interface ConnectOptions {
  home: string;
  agent?: string;
  hub?: string;
  capabilities?: string[];
  groups?: string[];
  role?: AgentRole;
}

export function hubAddress(home: string, explicit?: string): { host: string; port: number } {
  const text = explicit ?? process.env.FLEET_HUB ?? readConfig(home).hub;
  return text ? parseHubAddress(text) : { host: "127.0.0.1", port: DEFAULT_HUB_PORT };
}

export async function openConnection(o: ConnectOptions): Promise<HubConnection> {
  const identity = loadIdentity(o.home, o.agent);
  const { host, port } = hubAddress(o.home, o.hub);
  return connectHub({ host, port, identity, keys: pinnedPeers(o.home), capabilities: o.capabilities, groups: o.groups, role: o.role });
}
