// `fleet hub --swarm-port` and `fleet bridge swarm-invite` as real processes: a member joins
// with an invite written to a 0600 file, over HTTPS with a throwaway certificate.
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { cleanup, runCli, spawnHub, tmpDir, until } from "../../hub/support.js";
import { SwarmMember } from "./swarm-member.js";

let member: SwarmMember | undefined;
afterAll(async () => {
  await member?.close();
  await cleanup();
});

it("fleet hub --swarm-port serves agent-swarm; swarm-invite issues an invite a member joins with", async () => {
  const dir = tmpDir("swarm-cli-tls-");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  const home = tmpDir("fleet-swarm-cli-");
  const hub = await spawnHub(home, ["--swarm-port", "0", "--swarm-cert", join(dir, "cert.pem"), "--swarm-key", join(dir, "key.pem"), "--swarm", "crew"]);
  let port = 0;
  await until(() => {
    const m = /"peer":"swarm","host":"[^"]+","port":(\d+)/.exec(hub.output());
    if (m) port = Number(m[1]);
    return port > 0;
  }, 20_000, "the swarm bridge event");
  const out = join(dir, "invite.txt");
  const r = await runCli(["bridge", "swarm-invite", "--swarm", "crew", "--endpoint", `https://127.0.0.1:${port}`, "--out", out, "--uses", "1"], home);
  expect(r.code, r.stderr).toBe(0);
  expect(statSync(out).mode & 0o777).toBe(0o600);
  const invite = readFileSync(out, "utf8").trim();
  expect(r.stdout).not.toContain(invite.split("token=")[1]);
  const tls = { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  member = new SwarmMember("alice", tls);
  await member.listen();
  const joined = await member.join(invite, undefined, tls.cert);
  expect(joined).toMatchObject({ status: 200, body: { status: "accepted", swarm_name: "crew" } });
});
