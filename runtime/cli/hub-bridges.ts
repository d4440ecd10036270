// The bridges `fleet hub` starts beside itself (--keep-port N ...): each is an ordinary
// Fleet client of the hub just started, holding its keys under FLEET_HOME/bridges (0600).
import { join } from "node:path";
import { startKeepBridge } from "../bridges/keep/bridge.js";
import { BridgeKeys } from "../bridges/shared/bridge-keys.js";
import { hubConnector } from "../bridges/shared/fleet-link.js";
import type { CommandContext } from "./command.js";

export const HUB_BRIDGE_OPTIONS = {
  "keep-port": { type: "string" },
} as const;

export const HUB_BRIDGE_USAGE = "[--keep-port N (keep-protocol clients; keep's default is 9009, 0 = ephemeral)]";

export interface StartedBridges {
  close(): Promise<void>;
}

export async function startHubBridges(ctx: CommandContext, home: string, hub: { host: string; port: number }, num: (v: string | undefined, name: string) => number | undefined): Promise<StartedBridges> {
  const closers: (() => Promise<void>)[] = [];
  const dir = join(home, "bridges");
  const keepPort = num(ctx.values["keep-port"] as string | undefined, "keep-port");
  try {
    if (keepPort !== undefined) {
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
  } catch (e) {
    for (const c of closers.reverse()) await c();
    throw e;
  }
  return { close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
