// fleet group ... against a real hub process: create, invite (printed, or to a 0600 file; use
// limit), join, members, kick, mute, approve, role, transfer, policy and leave, each with --json;
// refusals by the hub exit 1 with their code; the command line's own mistakes exit 2 with one
// line and no protocol code; the hub's log never shows an invite.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../runtime/cli/main.js";
import { cleanup, type HubProcess, runCli, spawnHub, useHub, tmpDir } from "../hub/support.js";

const json = (s: string) => JSON.parse(s);
const INVITE = /^fleet1\.[A-Za-z0-9_-]+$/;

describe("fleet group against a hub process", () => {
  let home: string;
  let hub: HubProcess;
  beforeAll(async () => {
    home = tmpDir();
    for (const agent of ["owner", "bob", "carol", "dave"]) expect((await runCli(["keygen", "--agent-id", agent, "--json"], home)).code).toBe(0);
    hub = await spawnHub(home);
    useHub(home, hub.port);
  }, 60_000);
  afterAll(cleanup);

  const as = (agent: string, ...args: string[]) => runCli(["group", ...args, "--agent", agent, "--json"], home);
  const plain = (agent: string, ...args: string[]) => runCli(["group", ...args, "--agent", agent], home);
  const members = async (agent: string) => json((await as(agent, "members", "ops")).stdout).members as { agent: string; role: string; muted: boolean }[];

  it("create, invite (printed and to a file), join, members, kick, mute, role, transfer, approve, policy, leave; every refusal with its code", async () => {
    const created = await as("owner", "create", "ops");
    expect(created.code, created.stderr + created.stdout).toBe(0);
    expect(json(created.stdout)).toMatchObject({ ok: true, group: "ops", owner: "owner" });

    // Printed: the pasteable text alone on stdout, unredacted; with --json as the "invite" field.
    const printed = await plain("owner", "invite", "ops", "--uses", "2", "--ttl", "1h");
    expect(printed.code, printed.stderr).toBe(0);
    const invite = printed.stdout.trim();
    expect(invite).toMatch(INVITE);
    const asJson = json((await as("owner", "invite", "ops", "--uses", "1")).stdout);
    expect(asJson).toMatchObject({ ok: true, group: "ops", uses: 1 });
    expect(asJson.invite).toMatch(INVITE);
    // To a file: owner-only, and then not on stdout.
    const file = join(home, "ops.invite");
    const inv = await as("owner", "invite", "ops", "--uses", "1", "--ttl", "1h", "--out", file);
    expect(json(inv.stdout)).toMatchObject({ ok: true, group: "ops", file, uses: 1 });
    const fromFile = readFileSync(file, "utf8").trim();
    expect(fromFile).toMatch(INVITE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(inv.stdout).not.toContain(fromFile);

    const joined = await as("bob", "join", fromFile);
    expect(joined.code, joined.stdout + joined.stderr).toBe(0);
    // The file works as well as the text: the second use of a one-use invite is 608.
    const second = await as("carol", "join", file);
    expect(second.code).toBe(1);
    expect(second.stdout + second.stderr).toContain("608");
    expect((await plain("carol", "join", invite)).code).toBe(0);

    expect((await members("bob")).map((m) => m.agent).sort()).toEqual(["bob", "carol", "owner"]);

    const kick = await as("bob", "kick", "ops", "owner");
    expect(kick.code).toBe(1);
    expect(kick.stdout + kick.stderr).toContain("603");

    const muted = await as("owner", "mute", "ops", "carol");
    expect(muted.code, muted.stdout + muted.stderr).toBe(0);
    expect((await members("owner")).find((m) => m.agent === "carol")!.muted).toBe(true);

    // role and transfer: the owner's; bob becomes admin, then owner, and the old owner an admin.
    expect((await as("bob", "role", "ops", "carol", "admin")).code).toBe(1);
    const role = await as("owner", "role", "ops", "bob", "admin");
    expect(role.code, role.stdout + role.stderr).toBe(0);
    expect((await members("owner")).find((m) => m.agent === "bob")!.role).toBe("admin");
    const transfer = await as("owner", "transfer", "ops", "bob");
    expect(transfer.code, transfer.stdout + transfer.stderr).toBe(0);
    expect(json(transfer.stdout)).toMatchObject({ ok: true, owner: "bob" });
    expect((await members("bob")).find((m) => m.agent === "owner")!.role).toBe("admin");

    // Joins need approval: dave is pending until an admin approves.
    const policy = await as("bob", "policy", "ops", "--send", "admins", "--approval", "on");
    expect(json(policy.stdout).policy).toEqual({ send: "admins", join_approval: true });
    const daveInvite = json((await as("bob", "invite", "ops", "--holder", "dave")).stdout).invite;
    expect((await as("dave", "join", daveInvite)).code).toBe(0);
    expect(json((await as("bob", "members", "ops")).stdout).pending).toEqual(["dave"]);
    expect((await as("carol", "approve", "ops", "dave")).code).toBe(1); // not an admin: 603
    const approved = await as("owner", "approve", "ops", "dave");
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect((await members("bob")).map((m) => m.agent).sort()).toEqual(["bob", "carol", "dave", "owner"]);

    expect((await as("carol", "leave", "ops")).code).toBe(0);
    expect((await members("bob")).map((m) => m.agent).sort()).toEqual(["bob", "dave", "owner"]);

    // The hub logged the statements, never an invite.
    for (const text of [invite, fromFile, asJson.invite, daveInvite]) expect(hub.output()).not.toContain(text);
    expect(hub.output()).not.toMatch(/fleet1\.[A-Za-z0-9_-]{20,}/);
  }, 180_000);

  it("reports its own option and argument mistakes as usage errors: exit 2, one line, no protocol code", async () => {
    const cases = [
      ["create"],
      ["create", "x", "--send", "everyone"],
      ["invite", "ops", "--ttl", "soon"],
      ["invite", "ops", "--uses", "-1"],
      ["join", "no-such-file"],
      ["join", "fleet1.!!"],
      ["kick", "ops"],
      ["role", "ops", "bob", "owner"],
      ["policy", "ops", "--approval", "maybe"],
      ["invite", "ops", "--bogus"],
    ];
    // In-process (the same entry point as bin/fleet.js): twenty process starts would only measure tsx.
    const run = async (args: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await main(["group", ...args, "--agent", "owner", "--home", home], { write: (t) => (stdout += t), writeErr: (t) => (stderr += t) });
      return { code, stdout, stderr };
    };
    for (const args of cases) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).toMatch(/^fleet: (?!error \d)/);
      const j = await run([...args, "--json"]);
      expect(j.code, args.join(" ")).toBe(2);
      expect(json(j.stdout.trim().split("\n").at(-1)!), args.join(" ")).toMatchObject({ ok: false, error: { kind: "usage" } });
    }
  }, 60_000);
});
