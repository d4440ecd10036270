// The real `fleet` command (node bin/fleet.js) against a real hub process on an ephemeral
// loopback port: every command, --json everywhere, --help everywhere, errors as one line
// with the protocol code and a non-zero exit.
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../runtime/cli/main.js";
import { cleanup, runCli, spawnHub, useHub, tmpDir, type HubProcess } from "../hub/support.js";

const json = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);


describe("fleet CLI: help and usage", () => {
  it("prints help for every command and subcommand, exit 0", async () => {
    const home = tmpDir();
    const top = await runCli(["--help"], home);
    expect(top.code).toBe(0);
    const names = ["demo", "keygen", "keys", "hub", "ping", "send", "broadcast", "inbox", "registry", "bottle", "sign", "verify", "status", "token"];
    for (const n of names) expect(top.stdout).toContain(n);
    // The same entry point in-process (spawning 16 processes would only measure tsx start-up).
    for (const args of [...names.map((n) => [n, "--help"]), ["registry", "list", "--help"], ["registry", "query", "--help"], ["bottle", "send", "--help"], ["bottle", "status", "--help"], ["token", "issue", "--help"], ["keys", "rotate", "--help"]]) {
      let out = "";
      const code = await main([...args, "--home", home], { write: (t) => (out += t), writeErr: (t) => (out += t) });
      expect(code, args.join(" ")).toBe(0);
      expect(out).toMatch(/Usage: fleet/);
    }
  });

  it("fails unknown commands and bad flags with one line and exit 2 (a usage error has no protocol code)", async () => {
    const home = tmpDir();
    for (const args of [["frobnicate"], ["send", "--bogus"]]) {
      const r = await runCli(args, home);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^fleet: (?!error \d)/);
    }
  });
});

describe("fleet CLI against a hub process", () => {
  let home: string;
  let hub: HubProcess;
  beforeAll(async () => {
    home = tmpDir();
    for (const agent of ["alpha", "beta"]) {
      const r = await runCli(["keygen", "--agent-id", agent, "--json"], home);
      expect(r.code).toBe(0);
      expect(json(r.stdout)).toMatchObject({ ok: true, agent });
    }
    hub = await spawnHub(home);
    useHub(home, hub.port); // a --port 0 hub leaves config.json alone
  });
  afterAll(cleanup);

  it("keeps keys owner-only and never prints them", async () => {
    const keys = readdirSync(join(home, "keys"));
    expect(keys.length).toBe(3); // alpha, beta, and the hub's own
    for (const k of keys) {
      expect(statSync(join(home, "keys", k)).mode & 0o777).toBe(0o600);
      const seed = JSON.parse(readFileSync(join(home, "keys", k), "utf8")).seed as string;
      const shown = await runCli(["status", "--json"], home);
      expect(shown.stdout).not.toContain(seed);
    }
  });

  it("sends, then shows the inbox verified end to end", async () => {
    const a = await runCli(["send", "beta", "hello beta", "--json"], home);
    expect(a.code).toBe(0);
    expect(json(a.stdout)).toMatchObject({ ok: true, to: "beta", from: "alpha", accepted: true });
    const b = await runCli(["send", "beta", "--payload", '{"n":2}', "--type", "command"], home);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/accepted by the hub/);
    const inbox = await runCli(["inbox", "--agent", "beta", "--json"], home);
    expect(inbox.code).toBe(0);
    const msgs = json(inbox.stdout).messages as { from: string; verified: boolean; payload: unknown; type: string }[];
    expect(msgs.map((m) => [m.from, m.verified, m.payload, m.type])).toEqual([
      ["alpha", true, "hello beta", "event"],
      ["alpha", true, { n: 2 }, "command"],
    ]);
    const empty = await runCli(["inbox", "--agent", "beta"], home);
    expect(empty.stdout).toMatch(/no messages for beta/);
  }, 120_000); // many CLI processes: slow on a loaded machine

  it("lists and queries the registry, broadcasts, and pings", async () => {
    const list = await runCli(["registry", "list", "--json"], home);
    expect(json(list.stdout).agents.map((a: { agent: string }) => a.agent)).toEqual(["alpha", "beta"]);
    const q = await runCli(["registry", "query", "--capability", "nothing", "--json"], home);
    expect(json(q.stdout)).toEqual({ ok: true, agents: [] });
    const bc = await runCli(["broadcast", "all hands", "--json"], home);
    expect(json(bc.stdout)).toMatchObject({ ok: true, to: "fleet:broadcast", accepted: true });
    const ping = await runCli(["ping", "hub", "--json"], home);
    expect(ping.code).toBe(0);
    expect(json(ping.stdout).rtt_ms).toHaveLength(1);
    const ghost = await runCli(["ping", "ghost"], home);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/error 805 DELIVERY_RECIPIENT_UNAVAILABLE: ghost is not online/);
  }, 120_000); // many CLI processes: slow on a loaded machine

  it("holds a bottle until its condition holds and reports its status", async () => {
    const sent = await runCli(["bottle", "send", "beta", "--payload", '{"treasure":"map"}', "--when", "agent_online:beta", "--json"], home);
    expect(sent.code).toBe(0);
    const id = json(sent.stdout).bottle_id as string;
    const queued = await runCli(["bottle", "status", id, "--json"], home);
    expect(json(queued.stdout)).toMatchObject({ ok: true, status: "QUEUED", recipient: "beta" });
    const inbox = await runCli(["inbox", "--agent", "beta", "--json"], home);
    const msgs = json(inbox.stdout).messages as { from: string; verified: boolean; payload: unknown; body: string }[];
    expect(msgs).toEqual([expect.objectContaining({ from: "alpha", verified: true, body: "bottleLetter", payload: { treasure: "map" } })]);
    const done = await runCli(["bottle", "status", id, "--agent", "beta", "--json"], home);
    expect(json(done.stdout).status).toBe("ACKNOWLEDGED");
  }, 120_000); // many CLI processes: slow on a loaded machine

  it("signs and verifies files; a changed file fails with 601", async () => {
    const file = join(home, "notes.txt");
    writeFileSync(file, "fleet notes\n");
    const s = await runCli(["sign", file, "--json"], home);
    expect(json(s.stdout)).toMatchObject({ ok: true, agent: "alpha", signature: `${file}.sig` });
    const v = await runCli(["verify", file, `${file}.sig`, "--json"], home);
    expect(json(v.stdout)).toMatchObject({ ok: true, valid: true, agent: "alpha" });
    appendFileSync(file, "tampered\n");
    const bad = await runCli(["verify", file, `${file}.sig`], home);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^fleet: error 601 SECURITY_SIGNATURE_INVALID/);
    const badJson = await runCli(["verify", file, `${file}.sig`, "--json"], home);
    expect(json(badJson.stdout)).toMatchObject({ ok: false, error: { code: 601, name: "SECURITY_SIGNATURE_INVALID" } });
  });

  it("reports status of the home and the hub", async () => {
    const r = await runCli(["status", "--json"], home);
    const s = json(r.stdout);
    expect(s).toMatchObject({ ok: true, agents: ["alpha", "beta"], default_agent: "alpha", hub: { reachable: true } });
    expect(s.hub.address).toBe(`127.0.0.1:${hub.port}`);
  });

  it("fails with 805 and one line when the hub is unreachable", async () => {
    const r = await runCli(["send", "beta", "x", "--hub", "127.0.0.1:1"], home);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/error 805 DELIVERY_RECIPIENT_UNAVAILABLE/);
  });
});

describe("fleet hub --require-token", () => {
  afterAll(cleanup);
  it("admits an agent only with a token from `fleet token issue`, and a single-use token once", async () => {
    const home = tmpDir();
    const keygen = await runCli(["keygen", "--agent-id", "alpha", "--json"], home);
    expect(keygen.code).toBe(0);
    const holder = json(keygen.stdout).key_id as string;
    useHub(home, (await spawnHub(home, ["--require-token"])).port);
    const denied = await runCli(["send", "alpha", "x"], home);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^fleet: error (104|603) /);
    const file = join(home, "alpha.token");
    // A token bound to another key admits no one holding alpha's key.
    const other = join(home, "other.token");
    expect((await runCli(["token", "issue", "--subject", "alpha", "--holder", "ed25519:" + "a".repeat(32), "--out", other], home)).code).toBe(0);
    const wrongHolder = await runCli(["send", "alpha", "x", "--token-file", other], home);
    expect(wrongHolder.code).toBe(1);
    expect(wrongHolder.stderr).toMatch(/^fleet: error (104|603) /);
    const issued = await runCli(["token", "issue", "--subject", "alpha", "--holder", holder, "--uses", "1", "--out", file, "--json"], home);
    expect(json(issued.stdout)).toMatchObject({ ok: true, max_uses: 1 });
    expect(issued.stdout).not.toContain(readFileSync(file, "utf8").trim());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await runCli(["send", "alpha", "x", "--token-file", file], home)).code).toBe(0);
    const again = await runCli(["send", "alpha", "x", "--token-file", file], home);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^fleet: error (104|608) /);
  }, 120_000); // many CLI processes: slow on a loaded machine
});

describe("fleet demo", () => {
  it("runs an embedded hub and agents exchanging signed messages, exit 0", async () => {
    const r = await runCli(["demo"], tmpDir());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/signature verified end to end/);
    expect(r.stdout).toMatch(/demo done/);
    const j = await runCli(["demo", "--json"], tmpDir());
    expect(json(j.stdout).ok).toBe(true);
  }, 120_000); // many CLI processes: slow on a loaded machine
});
