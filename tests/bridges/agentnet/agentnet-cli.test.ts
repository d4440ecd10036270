// `fleet bridge agentnet --nats URL` as a real process: an agentnet client registers through it.
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { cleanup, FLEET_BIN, tmpDir, until } from "../../hub/support.js";
import { natsServerBinary, startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";
import { RealmClient } from "./realm-client.js";

let nats: NatsServerHandle | undefined;
let client: RealmClient | undefined;

afterAll(async () => {
  await client?.close();
  await cleanup();
  await nats?.stop();
});

it.skipIf(natsServerBinary() === null)("fleet bridge agentnet serves agentnet's registry", async () => {
  nats = await startNatsServer();
  const home = tmpDir("fleet-agentnet-cli-");
  const child = spawn(process.execPath, [FLEET_BIN, "bridge", "agentnet", "--nats", nats.url, "--json"], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("exit", r));
  try {
    await until(() => out.includes('"peer":"agentnet"'), 20_000, `the bridge event: ${out}`);
    client = new RealmClient(nats.url, { agentId: "cli-agent", name: "cli-agent", username: "cli" });
    const r = await client.start();
    expect(r.account_id).toMatch(/^acct_/);
    expect(statSync(join(home, "bridges", "agentnet-accounts.json")).mode & 0o777).toBe(0o600);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
});
