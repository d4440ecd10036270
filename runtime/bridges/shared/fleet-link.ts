// How a bridge reaches the fleet: as ordinary Fleet agents. A FleetConnector opens one
// connection per identity (over the hub's framed TCP or over NATS); ProxyPool keeps one
// connection per peer name the bridge presents, opened on first use and closed on release.
import { create } from "@bufbuild/protobuf";
import { type AgentRecord, type RegistryQuery, RegistryQuerySchema } from "../../../generated/proto/fleet/v1/registry_pb.js";
import type { FleetConnection } from "../../client/connection.js";
import type { Identity } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";

export interface FleetLink extends FleetConnection {
  queryRegistry(q: { agentId?: string; capability?: string; onlineOnly?: boolean }): Promise<{ agents: AgentRecord[] }>;
}

export interface ConnectExtras {
  /** Capabilities the presented agent offers (capability-addressed messages reach it). */
  capabilities?: string[];
  /** Groups the presented agent is a member of. */
  groups?: string[];
}

export type FleetConnector = (identity: Identity, extras?: ConnectExtras) => Promise<FleetLink>;

/** Connects to a hub's framed TCP listener (connectHub) as the given identity. */
export function hubConnector(o: { host?: string; port: number; admissionToken?: string }): FleetConnector {
  return async (identity, extras) => {
    const { connectHub } = await import("../../client/hub-client.js");
    return connectHub({ host: o.host ?? "127.0.0.1", port: o.port, identity, admissionToken: o.admissionToken, capabilities: extras?.capabilities, groups: extras?.groups });
  };
}

/** Connects over NATS (connectNats) as the given identity. */
export function natsConnector(url: string): FleetConnector {
  return async (identity, extras) => {
    const { connectNats } = await import("../../nats/connection.js");
    return connectNats({ url, identity, capabilities: extras?.capabilities, groups: extras?.groups });
  };
}

export const DEFAULT_MAX_PROXIES = 1_000;

interface Entry {
  link: Promise<FleetLink>;
  detach: () => void;
}

/** One Fleet connection per presented name; bounded (maxProxies: opening one more throws 804). */
export class ProxyPool {
  private readonly open = new Map<string, Entry>();
  readonly maxProxies: number;

  constructor(
    private readonly o: {
      connect: FleetConnector;
      identityFor: (name: string) => Identity;
      extrasFor?: (name: string) => ConnectExtras;
      /** Installed on each new connection (messages for the presented name). */
      attach: (name: string, link: FleetLink) => () => void;
      maxProxies?: number;
    },
  ) {
    this.maxProxies = o.maxProxies ?? DEFAULT_MAX_PROXIES;
  }

  has(name: string): boolean {
    return this.open.has(name);
  }

  get(name: string): Promise<FleetLink> {
    const have = this.open.get(name);
    if (have) return have.link;
    if (this.open.size >= this.maxProxies) return Promise.reject(new FleetError(ErrorCode.DELIVERY_BUSY, `bridge holds ${this.maxProxies} fleet connections already`));
    const entry: Entry = { link: undefined as never, detach: () => {} };
    entry.link = this.o.connect(this.o.identityFor(name), this.o.extrasFor?.(name)).then(
      (link) => {
        if (this.open.get(name) !== entry) {
          void link.close();
          throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `${name} was released while connecting`);
        }
        entry.detach = this.o.attach(name, link);
        const onClose = (link as { onClose?: (h: () => void) => void }).onClose;
        onClose?.call(link, () => {
          if (this.open.get(name) === entry) this.open.delete(name);
        });
        return link;
      },
      (e) => {
        if (this.open.get(name) === entry) this.open.delete(name);
        throw e;
      },
    );
    entry.link.catch(() => {});
    this.open.set(name, entry);
    return entry.link;
  }

  async release(name: string): Promise<void> {
    const entry = this.open.get(name);
    if (!entry) return;
    this.open.delete(name);
    try {
      const link = await entry.link;
      entry.detach();
      await link.close();
    } catch {
      // never opened
    }
  }

  get size(): number {
    return this.open.size;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((n) => this.release(n)));
  }
}

interface LocalRegistry {
  membership?: {
    replica: { query(q: RegistryQuery, isOnline?: (agent: string) => boolean): { agents: AgentRecord[] } };
    isOnline(agent: string): boolean;
  };
}

/**
 * Agents the fleet knows: a NATS connection's own registry replica when it has one (no round
 * trip, and it works before any replica is settled enough to answer queries), else a registry
 * query to the hub.
 */
export async function fleetAgents(link: FleetLink, q: { agentId?: string; onlineOnly?: boolean } = {}): Promise<AgentRecord[]> {
  const m = (link as LocalRegistry).membership;
  if (m) return m.replica.query(create(RegistryQuerySchema, q), (a) => m.isOnline(a)).agents;
  return (await link.queryRegistry(q)).agents;
}
