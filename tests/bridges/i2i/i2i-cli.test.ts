// `fleet bridge i2i --repo PATH --agents ...` as a real process beside a real hub process:
// an I2I agent clones through its URL (read from the 0600 urls file) and pushes a message
// that reaches a Fleet agent.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { connectHub } from "../../../runtime/client/hub-client.js";
import type { Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { cleanup, FLEET_BIN, inProcessHub, tmpDir, until } from "../../hub/support.js";

afterAll(cleanup);

it("fleet bridge i2i serves the repository and carries a pushed commit to the fleet", async () => {
  const hub = await inProcessHub();
  const got: Envelope[] = [];
  const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
  beta.onMessage((e) => got.push(e));
  const home = tmpDir("fleet-i2i-cli-");
  const repo = join(tmpDir("i2i-repo-"), "fleet.git");
  const child = spawn(process.execPath, [FLEET_BIN, "bridge", "i2i", "--repo", repo, "--agents", "alice", "--hub", `127.0.0.1:${hub.port}`, "--json"], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("exit", r));
  try {
    await until(() => out.includes('"peer":"i2i"'), 20_000, `the bridge event: ${out}`);
    const urlsFile = join(repo, "fleet-bridge", "urls.json");
    expect(statSync(urlsFile).mode & 0o777).toBe(0o600);
    const url = (JSON.parse(readFileSync(urlsFile, "utf8")) as Record<string, string>).alice!;
    expect(out).not.toContain(url);
    const dir = join(tmpDir("i2i-alice-"), "alice");
    const env = { ...process.env, GIT_AUTHOR_NAME: "alice", GIT_AUTHOR_EMAIL: "a@x", GIT_COMMITTER_NAME: "alice", GIT_COMMITTER_EMAIL: "a@x" };
    execFileSync("git", ["clone", "-q", url, dir], { env });
    execFileSync("git", ["commit", "-q", "--allow-empty", "-m", "[I2I:alice->beta:request] hi"], { cwd: dir, env });
    execFileSync("git", ["push", "-q", "origin", "HEAD:main"], { cwd: dir, env });
    const id = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
    await until(() => got.some((e) => e.id === id && e.sender === "i2i:alice"), 10_000, "the commit at beta");
  } finally {
    child.kill("SIGTERM");
    await exited;
    await beta.close();
  }
});
