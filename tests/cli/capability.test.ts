// fleet capability policy|grant and fleet hub --capability-policy against a real hub process:
// an agent offering a granted capability with its grant is admitted, one without is refused,
// and the printed grant is the whole token text (not redacted).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, runCli, spawnHub, tmpDir, useHub } from "../hub/support.js";

const json = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);

describe("fleet capability against a hub process", () => {
  let home: string;
  const keyIds: Record<string, string> = {};
  beforeAll(async () => {
    home = tmpDir();
    for (const agent of ["admin", "beta", "mallory"]) keyIds[agent] = json((await runCli(["keygen", "--agent-id", agent, "--json"], home)).stdout).key_id;
    const policy = await runCli(["capability", "policy", "compute", "--agent", "admin", "--json"], home);
    expect(policy.code, policy.stderr).toBe(0);
    const { ok: _ok, ...file } = json(policy.stdout);
    writeFileSync(join(home, "policy.json"), JSON.stringify(file));
    useHub(home, (await spawnHub(home, ["--capability-policy", join(home, "policy.json")])).port);
  }, 90_000);
  afterAll(cleanup);

  it("grant printed by the authority admits its holder; an offer without one is refused; a bad policy file is said so", async () => {
    expect(keyIds.beta).toMatch(/^ed25519:/);
    const granted = await runCli(["capability", "grant", "compute", "--holder-key", keyIds.beta!, "--holder", "beta", "--agent", "admin"], home);
    expect(granted.code, granted.stderr).toBe(0);
    const grant = granted.stdout.trim();
    expect(grant).toMatch(/^fleet1\.[A-Za-z0-9_-]{100,}$/);
    const beta = await runCli(["inbox", "--agent", "beta", "--grant", grant, "--wait", "50", "--json"], home);
    expect(beta.code, beta.stderr + beta.stdout).toBe(0);
    const mallory = await runCli(["inbox", "--agent", "mallory", "--capability", "compute", "--wait", "50"], home);
    expect(mallory.code).toBe(1);
    expect(mallory.stderr).toMatch(/compute is a granted capability/);
    // beta's grant is bound to beta's key: useless to mallory.
    const stolen = await runCli(["inbox", "--agent", "mallory", "--grant", grant, "--wait", "50"], home);
    expect(stolen.code).toBe(1);
    expect((await runCli(["capability", "grant", "compute", "--agent", "admin"], home)).code).toBe(2);
    writeFileSync(join(home, "bad.json"), JSON.stringify({ granted: { compute: [{ agent: "admin", public_key: "short" }] } }));
    const bad = await runCli(["hub", "--port", "0", "--capability-policy", join(home, "bad.json")], home);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a capability policy at \/granted\/compute\/0\/public_key/);
  }, 120_000);
});
