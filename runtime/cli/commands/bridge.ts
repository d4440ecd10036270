// `fleet bridge agentnet --nats URL`: peers' agents join a NATS fleet through a bridge run
// beside it (spec/bridges/). Keys and bindings live in FLEET_HOME/bridges (0600).
import { join } from "node:path";
import { startAgentnetBridge } from "../../bridges/agentnet/bridge.js";
import { startI2IBridge } from "../../bridges/i2i/bridge.js";
import { hubConnector, natsConnector } from "../../bridges/shared/fleet-link.js";
import { admissionToken, hubAddress, natsUrl } from "../connect.js";
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

const i2i: Command = {
  name: "i2i",
  summary: "serve a git repository I2I agents push [I2I:...] commits to; carry them to and from Fleet agents",
  usage: "fleet bridge i2i --repo PATH --agents NAME,... [--branch main] [--hub HOST:PORT | --nats URL] (agents' git URLs: PATH/fleet-bridge/urls.json, 0600)",
  options: { repo: { type: "string" }, agents: { type: "string" }, branch: { type: "string" } },
  async run(ctx) {
    const home = ensureHome(ctx.home);
    const repo = str(ctx, "repo");
    const agents = (str(ctx, "agents") ?? "").split(",").map((a) => a.trim()).filter(Boolean);
    if (!repo || !agents.length) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--repo PATH and --agents NAME,... are required");
    const nats = natsUrl(home, str(ctx, "hub"));
    const hub = hubAddress(home, str(ctx, "hub"));
    const b = await startI2IBridge({
      connect: nats ? natsConnector(nats) : hubConnector({ ...hub, admissionToken: admissionToken({ tokenFile: str(ctx, "token-file") }) }),
      keys: BridgeKeys.fromFile(join(home, "bridges", "bridge.secret")),
      repoDir: repo,
      agents,
      branch: str(ctx, "branch"),
      log: (line) => ctx.out.line(line),
    });
    ctx.out.line(`i2i bridge serving ${b.repoDir} (branch ${b.branch}) for ${agents.join(", ")}; their git URLs are in ${b.urlsFile}`);
    ctx.out.event({ event: "bridge", peer: "i2i", repo: b.repoDir, urls_file: b.urlsFile });
    await ctx.interrupted;
    await b.close();
    ctx.out.event({ event: "stopped" });
  },
};

export const bridge: Command = {
  name: "bridge",
  summary: "run a bridge for another protocol's agents (agentnet, i2i)",
  usage: "fleet bridge agentnet --nats URL | fleet bridge i2i --repo PATH --agents NAME,...",
  sub: [agentnet, i2i],
};
