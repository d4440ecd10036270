// The bridges `fleet hub` starts beside itself (--keep-port N ...): each is an ordinary
// Fleet client of the hub just started, holding its keys under FLEET_HOME/bridges (0600).
// Bridges are loaded only when asked for, so a plain `fleet hub` starts as before.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, FleetError } from "../errors.js";
import type { CommandContext } from "./command.js";

export const HUB_BRIDGE_OPTIONS = {
  "keep-port": { type: "string" },
  "swarm-port": { type: "string" },
  "swarm-cert": { type: "string" },
  "swarm-key": { type: "string" },
  swarm: { type: "string" },
} as const;

export const HUB_BRIDGE_USAGE =
  "[--keep-port N (keep-protocol clients; keep's default is 9009, 0 = ephemeral)] [--swarm-port N --swarm-cert PEM --swarm-key PEM [--swarm NAME[=GROUP],... (default fleet)] (agent-swarm over HTTPS; invites: fleet bridge swarm-invite)]";

/** "a=g1,b" → [{name a, group g1}, {name b, group b}]. */
export function swarmList(v: string | undefined): { name: string; group: string }[] {
  return (v ?? "fleet").split(",").map((x) => x.trim()).filter(Boolean).map((x) => {
    const [name, group] = x.split("=");
    return { name: name!, group: group || name! };
  });
}

export interface StartedBridges {
  close(): Promise<void>;
}

export async function startHubBridges(ctx: CommandContext, home: string, hub: { host: string; port: number }, num: (v: string | undefined, name: string) => number | undefined): Promise<StartedBridges> {
  const closers: (() => Promise<void>)[] = [];
  const dir = join(home, "bridges");
  const keepPort = num(ctx.values["keep-port"] as string | undefined, "keep-port");
  try {
    if (keepPort !== undefined) {
      const { startKeepBridge } = await import("../bridges/keep/bridge.js");
      const { BridgeKeys } = await import("../bridges/shared/bridge-keys.js");
      const { hubConnector } = await import("../bridges/shared/fleet-link.js");
      const keep = await startKeepBridge({
        connect: hubConnector({ host: hub.host, port: hub.port }),
        keys: BridgeKeys.fromFile(join(dir, "bridge.secret")),
        bindingsFile: join(dir, "keep-names.json"),
        host: hub.host,
        port: keepPort,
        log: (line) => ctx.out.line(`hub: ${line}`),
      });
      closers.push(() => keep.close());
      ctx.out.line(`keep-protocol bridge listening on ${hub.host}:${keep.port}`);
      ctx.out.event({ event: "bridge", peer: "keep", host: hub.host, port: keep.port });
    }
    const swarmPort = num(ctx.values["swarm-port"] as string | undefined, "swarm-port");
    if (swarmPort !== undefined) {
      const cert = ctx.values["swarm-cert"] as string | undefined;
      const key = ctx.values["swarm-key"] as string | undefined;
      if (!cert || !key) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--swarm-port needs --swarm-cert and --swarm-key (PEM files)");
      const { startSwarmBridge } = await import("../bridges/swarm/bridge.js");
      const { BridgeKeys } = await import("../bridges/shared/bridge-keys.js");
      const { hubConnector } = await import("../bridges/shared/fleet-link.js");
      const swarm = await startSwarmBridge({
        connect: hubConnector({ host: hub.host, port: hub.port }),
        keys: BridgeKeys.fromFile(join(dir, "bridge.secret")),
        stateFile: join(dir, "swarms.json"),
        cert: readFileSync(cert),
        key: readFileSync(key),
        host: hub.host,
        port: swarmPort,
        swarms: swarmList(ctx.values.swarm as string | undefined),
        log: (line) => ctx.out.line(`hub: ${line}`),
      });
      closers.push(() => swarm.close());
      ctx.out.line(`agent-swarm bridge listening on ${swarm.masterEndpoint}`);
      ctx.out.event({ event: "bridge", peer: "swarm", host: hub.host, port: swarm.port, endpoint: swarm.masterEndpoint });
    }
  } catch (e) {
    for (const c of closers.reverse()) await c();
    throw e;
  }
  return { close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
