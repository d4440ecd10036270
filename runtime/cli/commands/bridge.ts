// `fleet bridge agentnet --nats URL`: peers' agents join a NATS fleet through a bridge run
// beside it (spec/bridges/). Keys and bindings live in FLEET_HOME/bridges (0600).
import { join } from "node:path";
import { startAgentnetBridge } from "../../bridges/agentnet/bridge.js";
import { BridgeKeys } from "../../bridges/shared/bridge-keys.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { type Command, str } from "../command.js";
import { ensureHome } from "../home.js";

const agentnet: Command = {
  name: "agentnet",
  summary: "serve agentnet's registry.* and relay account inboxes to and from Fleet agents on the same nats-server",
  usage: "fleet bridge agentnet --nats URL",
  async run(ctx) {
    const home = ensureHome(ctx.home);
    const url = str(ctx, "nats") ?? process.env.FLEET_NATS;
    if (!url) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--nats URL is required");
    const dir = join(home, "bridges");
    const bridge = await startAgentnetBridge({
      natsUrl: url,
      keys: BridgeKeys.fromFile(join(dir, "bridge.secret")),
      bindingsFile: join(dir, "agentnet-accounts.json"),
      log: (line) => ctx.out.line(line),
    });
    ctx.out.line(`agentnet bridge serving registry.* on ${url} as ${bridge.controlAgent}`);
    ctx.out.event({ event: "bridge", peer: "agentnet", nats: url });
    await ctx.interrupted;
    await bridge.close();
    ctx.out.event({ event: "stopped" });
  },
};

export const bridge: Command = {
  name: "bridge",
  summary: "run a bridge for another protocol's agents (agentnet)",
  usage: "fleet bridge agentnet --nats URL",
  sub: [agentnet],
};
