// fleet group ... against a real hub process: create, invite (pasteable, use limit), join,
// members, kick, mute, policy and leave, each with --json; refusals exit non-zero with their code.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, runCli, spawnHub, useHub, tmpDir } from "../hub/support.js";

const json = (s: string) => JSON.parse(s);

describe("fleet group against a hub process", () => {
  let home: string;
  beforeAll(async () => {
    home = tmpDir();
    for (const agent of ["owner", "bob", "carol"]) expect((await runCli(["keygen", "--agent-id", agent, "--json"], home)).code).toBe(0);
    useHub(home, (await spawnHub(home)).port);
  }, 60_000);
  afterAll(cleanup);

  it("create, invite, join, members, kick, mute, policy, leave; every refusal with its code", async () => {
    const as = (agent: string, ...args: string[]) => runCli(["group", ...args, "--agent", agent, "--json"], home);
    const created = await as("owner", "create", "ops");
    expect(created.code, created.stderr + created.stdout).toBe(0);
    expect(json(created.stdout)).toMatchObject({ ok: true, group: "ops", owner: "owner" });

    const file = join(home, "ops.invite");
    const inv = await as("owner", "invite", "ops", "--uses", "1", "--ttl", "1h", "--out", file);
    expect(json(inv.stdout)).toMatchObject({ ok: true, group: "ops", file, uses: 1 });
    // The pasteable text, in an owner-only file; never on stdout.
    const invite = readFileSync(file, "utf8").trim();
    expect(invite).toMatch(/^fleet1\.[A-Za-z0-9_-]+$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(inv.stdout).not.toContain(invite);
    expect((await as("owner", "invite", "ops")).code).not.toBe(0);

    const joined = await as("bob", "join", invite);
    expect(joined.code, joined.stdout + joined.stderr).toBe(0);
    // The file works as well as the text: the second use of a one-use invite is 608.
    const second = await as("carol", "join", file);
    expect(second.code).not.toBe(0);
    expect(second.stdout + second.stderr).toContain("608");

    const members = json((await as("bob", "members", "ops")).stdout);
    expect(members.members.map((m: { agent: string }) => m.agent).sort()).toEqual(["bob", "owner"]);

    const kick = await as("bob", "kick", "ops", "owner");
    expect(kick.code).not.toBe(0);
    expect(kick.stdout + kick.stderr).toContain("603");

    const muted = await as("owner", "mute", "ops", "bob");
    expect(muted.code, muted.stdout + muted.stderr).toBe(0);
    expect(json((await as("owner", "members", "ops")).stdout).members.find((m: { agent: string }) => m.agent === "bob").muted).toBe(true);
    const policy = await as("owner", "policy", "ops", "--send", "admins", "--approval", "on");
    expect(json(policy.stdout).policy).toEqual({ send: "admins", join_approval: true });
    expect((await as("bob", "leave", "ops")).code).toBe(0);
    expect(json((await as("owner", "policy", "ops")).stdout).members.map((m: { agent: string }) => m.agent)).toEqual(["owner"]);
  }, 120_000);
});
