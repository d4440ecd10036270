// `fleet inbox --nats --capability X --grant G` end to end with the real CLI and a real
// nats-server: the holder named in the grant receives capability:compute traffic; an agent
// without a grant is refused by its own CLI given the fleet's policy; and `fleet registry query
// --capability-policy FILE` lists only the holder, though an agent ignoring the policy offers
// compute bare; and `fleet nats auth --capability-policy --grant` denies the granted subject to
// everyone but the holder.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { cleanup, FLEET_BIN, runCli, tmpDir } from "../hub/support.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const last = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);

describe.skipIf(!hasNatsServer)("fleet inbox --nats with a granted capability", () => {
  let server: NatsServerHandle;
  let home: string;
  let policyFile: string;
  let grant: string;
  const conns: NatsFleetConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
    home = tmpDir("fleet-nats-grants-");
  }, 30_000);
  afterAll(async () => {
    for (const c of conns) await c.close();
    await server?.stop();
    await cleanup();
  });

  it("the grant's holder receives capability:compute; a bare offer is refused; registry query lists only the holder", async () => {
    const keyIds: Record<string, string> = {};
    for (const agent of ["admin", "beta", "mallory"]) keyIds[agent] = last((await runCli(["keygen", "--agent-id", agent, "--json"], home)).stdout).key_id;
    const { ok: _ok, ...policy } = last((await runCli(["capability", "policy", "compute", "--agent", "admin", "--json"], home)).stdout);
    policyFile = join(home, "policy.json");
    writeFileSync(policyFile, JSON.stringify(policy));
    grant = (await runCli(["capability", "grant", "compute", "--holder-key", keyIds.beta!, "--holder", "beta", "--agent", "admin"], home)).stdout.trim();
    const nats = ["--nats", server.url, "--capability-policy", policyFile];

    // Mallory's own CLI, given the policy, will not offer compute without a grant.
    const mallory = await runCli(["inbox", "--agent", "mallory", "--capability", "compute", "--wait", "50", ...nats], home);
    expect(mallory.code).toBe(1);
    expect(mallory.stderr).toMatch(/compute is a granted capability/);

    // An agent that ignores the policy offers compute bare; a policy-aware registry query leaves it out.
    const rogue = await connectNats({ url: server.url, identity: generateIdentity("rogue"), capabilities: ["compute"], registry: { syncIntervalMs: 200 } });
    conns.push(rogue);

    const child = spawn(process.execPath, [FLEET_BIN, "inbox", "--agent", "beta", "--capability", "compute", "--grant", grant, "--follow", "--json", ...nats], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    try {
      const sender = await connectNats({ url: server.url, identity: generateIdentity("job-sender"), registry: false });
      conns.push(sender);
      // capability: traffic is live: sent until beta's inbox is subscribed and prints it (bounded).
      for (let i = 0; i < 60 && !out.includes('"payload":"job"'); i++) {
        await sender.send({ to: "capability:compute", json: "job" });
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(out, err).toContain('"payload":"job"');
      expect(JSON.parse(out.split("\n").find((l) => l.includes('"payload":"job"'))!)).toMatchObject({ to: "capability:compute", verified: true });

      const found = await runCli(["registry", "query", "--capability", "compute", "--agent", "admin", "--json", ...nats], home, 30_000);
      expect(found.code, found.stderr).toBe(0);
      expect(last(found.stdout).agents.map((a: { agent: string }) => a.agent)).toEqual(["beta"]);
    } finally {
      child.kill("SIGTERM");
    }
  }, 90_000);

  it("fleet nats auth --capability-policy --grant: only the grant's holder may subscribe to the granted capability's subject", async () => {
    const out = join(home, "fleet-auth.conf");
    const r = await runCli(["nats", "auth", "--out", out, "--capability-policy", policyFile, "--grant", grant, "--agent", "admin", "--json"], home);
    expect(r.code, r.stderr).toBe(0);
    expect(last(r.stdout)).toMatchObject({ ok: true, capabilities: { compute: ["beta"] }, grants_refused: [] });
    // Each user is a comment naming its agent, then its JSON line.
    const lines = readFileSync(out, "utf8").split("\n");
    const denied: Record<string, boolean> = {};
    lines.forEach((l, i) => {
      if (!l.trim().startsWith("{")) return;
      const agent = JSON.parse(lines[i - 1]!.trim().slice(2).split(" (admin)")[0]!) as string;
      const u = JSON.parse(l) as { permissions?: { subscribe: { deny?: string[] } } };
      if (u.permissions) denied[agent] = u.permissions.subscribe.deny?.includes("fleet.v1.capability.compute") ?? false;
    });
    // The home's agents and any peers it pinned: all denied but beta.
    expect(denied).toMatchObject({ beta: false, mallory: true });
    expect(Object.values(denied).filter((d) => !d)).toHaveLength(1);
    const bare = await runCli(["nats", "auth", "--out", out, "--grant", grant, "--agent", "admin"], home);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/--grant needs --capability-policy/);
  }, 60_000);
});
