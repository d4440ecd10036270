// `fleet bridge agentnet --nats URL`: peers' agents join a NATS fleet through a bridge run
// beside it (spec/bridges/). Keys and bindings live in FLEET_HOME/bridges (0600).
import { join } from "node:path";
// Bridges are loaded only when run: every other command starts without them.
import { writeFileSync } from "node:fs";
import { admissionToken, hubAddress, natsUrl } from "../connect.js";
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
    const { startAgentnetBridge } = await import("../../bridges/agentnet/bridge.js");
    const { BridgeKeys } = await import("../../bridges/shared/bridge-keys.js");
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
    const { startI2IBridge } = await import("../../bridges/i2i/bridge.js");
    const { hubConnector, natsConnector } = await import("../../bridges/shared/fleet-link.js");
    const { BridgeKeys } = await import("../../bridges/shared/bridge-keys.js");
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

const swarmInviteCmd: Command = {
  name: "swarm-invite",
  summary: "issue an agent-swarm invite (EdDSA JWT) for a swarm served by `fleet hub --swarm-port`",
  usage: "fleet bridge swarm-invite --swarm NAME --endpoint https://HOST:PORT --out FILE [--uses N] [--ttl SECONDS]",
  options: { swarm: { type: "string" }, endpoint: { type: "string" }, out: { type: "string" }, uses: { type: "string" }, ttl: { type: "string" } },
  async run(ctx) {
    const home = ensureHome(ctx.home);
    const name = str(ctx, "swarm") ?? "fleet";
    const endpoint = str(ctx, "endpoint");
    const out = str(ctx, "out");
    if (!endpoint || !out) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--endpoint and --out are required");
    const { SwarmState } = await import("../../bridges/swarm/state.js");
    const { swarmInvite } = await import("../../bridges/swarm/bridge.js");
    const { BridgeKeys } = await import("../../bridges/shared/bridge-keys.js");
    const swarm = new SwarmState(join(home, "bridges", "swarms.json")).byName(name);
    if (!swarm) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no swarm ${name} (start fleet hub --swarm-port ... --swarm ${name} first)`);
    const uses = str(ctx, "uses");
    const ttl = str(ctx, "ttl");
    const url = swarmInvite({ keys: BridgeKeys.fromFile(join(home, "bridges", "bridge.secret")), swarmId: swarm.swarm_id, masterEndpoint: `${endpoint.replace(/\/$/, "")}/swarm`, now: Date.now(), maxUses: uses ? Number(uses) : undefined, expiresAt: ttl ? Date.now() + Number(ttl) * 1000 : undefined });
    // An invite admits its holder: written to a 0600 file, never printed.
    writeFileSync(out, url + "\n", { mode: 0o600 });
    ctx.out.line(`invite to swarm ${name} written to ${out}`);
    ctx.out.result({ ok: true, swarm: name, swarm_id: swarm.swarm_id, out });
  },
};

export const bridge: Command = {
  name: "bridge",
  summary: "run a bridge for another protocol's agents (agentnet, i2i) or issue agent-swarm invites",
  usage: "fleet bridge agentnet --nats URL | fleet bridge i2i --repo PATH --agents NAME,... | fleet bridge swarm-invite --swarm NAME --endpoint URL --out FILE",
  sub: [agentnet, i2i, swarmInviteCmd],
};
