// The CLI without surprises (issue 13, item 5), each point seen by a new user, on the real
// `fleet` command (node bin/fleet.js) against a real hub process and a real nats-server.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS, main } from "../../runtime/cli/main.js";
import { HELP } from "../../runtime/cli/help.js";
import { cleanup, FLEET_BIN, ROOT, runCli, spawnHub, tmpDir, until, type HubProcess } from "../hub/support.js";
import { hasNatsServer, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

const last = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);
const pkgVersion = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
/** No protocol code ("error 709 VALIDATION_...") in a CLI-level failure. */
const NO_CODE = /^fleet: (?!error \d{3} )/;

function setConfig(home: string, patch: Record<string, unknown>): void {
  const path = join(home, "config.json");
  let cfg: Record<string, unknown> = {};
  try {
    cfg = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    // none yet
  }
  writeFileSync(path, JSON.stringify({ ...cfg, ...patch }));
}

describe("fleet CLI: the command line", () => {
  it("takes global options anywhere, and --version", async () => {
    const home = tmpDir();
    const before = await runCli(["--json", "status"], home);
    expect(before.code).toBe(0);
    expect(last(before.stdout)).toMatchObject({ ok: true, home });
    const other = tmpDir();
    const homeFirst = await runCli(["--home", other, "status", "--json"], home);
    expect(homeFirst.code).toBe(0);
    expect(last(homeFirst.stdout).home).toBe(other);
    const between = await runCli(["registry", "--json", "list"], home);
    expect(between.code).toBe(1); // no identity yet: a JSON error, not the help text
    expect(last(between.stdout)).toMatchObject({ ok: false, error: { kind: "cli", message: expect.stringMatching(/no agent identity/) } });
    const v = await runCli(["--version"], home);
    expect(v).toMatchObject({ code: 0, stdout: `fleet ${pkgVersion}\n` });
    let out = "";
    expect(await main(["status", "--version", "--json"], { write: (t) => (out += t) })).toBe(0);
    expect(JSON.parse(out)).toEqual({ ok: true, version: pkgVersion });
  }, 120_000);

  it("usage errors exit 2 with one line and no protocol code; CLI failures exit 1 without one", async () => {
    const home = tmpDir();
    for (const args of [["send"], ["send", "--bogus"], ["frobnicate"], ["inbox", "--wait", "abc"], ["token", "issue", "--uses", "-1", "--out", join(home, "t")], ["ping", "hub", "--count", "0"], ["registry", "query"], ["--home"]]) {
      const r = await runCli(args, home);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).toMatch(NO_CODE);
    }
    expect((await runCli(["inbox", "--wait", "abc"], home)).stderr).toMatch(/--wait must be a number >= 0 \(milliseconds\), got "abc"/);
    expect((await runCli(["token", "issue", "--uses", "-1", "--out", join(home, "t")], home)).stderr).toMatch(/--uses must be a whole number >= 0/);
    const bare = await runCli([], home);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toMatch(/Usage: fleet COMMAND/);

    const missing = await runCli(["sign", "missing.txt"], home);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("fleet: no such file: missing.txt\n");
    expect((await runCli(["keygen", "--agent-id", "alpha"], home)).code).toBe(0);
    const again = await runCli(["keygen", "--agent-id", "alpha"], home);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^fleet: a key for alpha already exists/);
    const asJson = await runCli(["keygen", "--agent-id", "alpha", "--json"], home);
    expect(last(asJson.stdout)).toEqual({ ok: false, error: { kind: "cli", message: expect.stringMatching(/already exists/) } });
  }, 180_000);

  it("a port in use is said so (exit 1, no 902)", async () => {
    const home = tmpDir();
    const busy = createServer();
    await new Promise<void>((r) => busy.listen({ host: "127.0.0.1", port: 0 }, () => r()));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = await runCli(["hub", "--port", String(port)], home);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`fleet: port ${port} is in use (another hub? \`fleet hub --port N\` picks another, --port 0 any free one)\n`);
    } finally {
      busy.close();
    }
  }, 120_000);

  it("--help for every command and subcommand lists every option with its default, and one example", async () => {
    const paths: [string[], (typeof COMMANDS)[number]][] = [];
    for (const c of COMMANDS) {
      paths.push([[c.name], c]);
      for (const s of c.sub ?? []) paths.push([[c.name, s.name], s]);
    }
    for (const [args, cmd] of paths) {
      let out = "";
      expect(await main([...args, "--help"], { write: (t) => (out += t) }), args.join(" ")).toBe(0);
      const help = HELP[`fleet ${args.join(" ")}`];
      expect(help, args.join(" ")).toBeDefined();
      expect(out).toContain(`Example:\n  ${help!.example}`);
      for (const name of Object.keys(cmd.options ?? {})) {
        const row = out.split("\n").find((l) => l.startsWith(`  --${name} `));
        expect(row, `${args.join(" ")} --${name}`).toMatch(/\(default: [^)]+\)|\(required[^)]*\)/);
      }
    }
  });
});

describe("fleet CLI against a hub process: what it says", () => {
  let home: string;
  let hub: HubProcess;
  beforeAll(async () => {
    home = tmpDir();
    for (const agent of ["alpha", "beta"]) expect((await runCli(["keygen", "--agent-id", agent], home)).code).toBe(0);
    hub = await spawnHub(home);
    setConfig(home, { hub: `127.0.0.1:${hub.port}` });
  });
  afterAll(cleanup);

  it("`hub --port 0` leaves config.json alone; a stale address is explained", async () => {
    const other = tmpDir();
    expect((await runCli(["keygen", "--agent-id", "alpha"], other)).code).toBe(0);
    setConfig(other, { hub: `127.0.0.1:${hub.port}` });
    const before = readFileSync(join(other, "config.json"), "utf8");
    const ephemeral = await spawnHub(other);
    expect(readFileSync(join(other, "config.json"), "utf8")).toBe(before);
    ephemeral.child.kill("SIGTERM");
    await ephemeral.exited;
    // An address left by a hub that has exited (pid 2^22-1 is never a live process here).
    const dead = createServer();
    await new Promise<void>((r) => dead.listen({ host: "127.0.0.1", port: 0 }, () => r()));
    const port = (dead.address() as { port: number }).port;
    await new Promise((r) => dead.close(r));
    setConfig(other, { hub: `127.0.0.1:${port}`, hubPid: 4_194_303 });
    const r = await runCli(["send", "alpha", "hi"], other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^fleet: no hub answers at 127\\.0\\.0\\.1:${port}, the address in .*config\\.json \\(written by a hub, pid 4194303, that is no longer running`));
  }, 120_000);

  it("`send nobody hi` says the recipient is unknown (the hub stores it for later: exit 0)", async () => {
    const r = await runCli(["send", "nobody", "hi"], home);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accepted by the hub; note: no agent named nobody has ever connected to the hub: the message waits there until nobody connects, at most its TTL/);
    const j = await runCli(["send", "nobody", "hi", "--json"], home);
    expect(last(j.stdout)).toMatchObject({ ok: true, to: "nobody", recipient_known: false, receipt: { status: "ACCEPTED" } });
    expect((await runCli(["inbox", "--agent", "beta", "--wait", "0"], home)).code).toBe(0); // beta has connected once
    const known = await runCli(["send", "beta", "hi", "--json"], home);
    expect(last(known.stdout)).toMatchObject({ recipient_known: true });
  }, 120_000);

  it("inbox --capability --group registers the CLI agent; registry tables are aligned", async () => {
    const r = await runCli(["inbox", "--agent", "beta", "--capability", "summarize", "--group", "crew", "--group", "night", "--wait", "0"], home);
    expect(r.code).toBe(0);
    const q = await runCli(["registry", "query", "--capability", "summarize", "--json"], home);
    expect(last(q.stdout).agents).toEqual([expect.objectContaining({ agent: "beta", capabilities: ["summarize"], groups: ["crew", "night"] })]);
    const table = (await runCli(["registry", "list"], home)).stdout.trim().split("\n");
    expect(table[0]).toMatch(/^AGENT\s+PRESENCE\s+KEY\s+CAPABILITIES\s+GROUPS$/);
    expect(table.length).toBeGreaterThanOrEqual(3);
    for (const col of ["PRESENCE", "KEY", "CAPABILITIES", "GROUPS"]) {
      const at = table[0]!.indexOf(col);
      for (const row of table.slice(1)) expect(row[at - 1], `${col} in ${row}`).toBe(" ");
      for (const row of table.slice(1)) expect(row[at], `${col} in ${row}`).not.toBe(" ");
    }
  }, 120_000);

  it("inbox --follow --json prints one JSON object per message, one per line", async () => {
    const child = spawn(process.execPath, [FLEET_BIN, "inbox", "--agent", "beta", "--follow", "--json"], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    try {
      await until(() => /"connected"|\{/.test(out) || true, 100);
      await new Promise((r) => setTimeout(r, 1_500)); // connected and past the backlog
      for (const t of ["one", "two"]) expect((await runCli(["send", "beta", t], home)).code).toBe(0);
      await until(() => out.includes('"two"'), 10_000, "both messages");
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as { payload?: string; from?: string; verified?: boolean });
    const live = lines.filter((l) => l.payload === "one" || l.payload === "two");
    expect(live.map((l) => l.payload)).toEqual(["one", "two"]);
    expect(live.every((l) => l.from === "alpha" && l.verified === true)).toBe(true);
  }, 120_000);

  it("hub log lines carry a timestamp and a level", async () => {
    const other = tmpDir();
    const child = spawn(process.execPath, [FLEET_BIN, "hub", "--port", "0"], { env: { ...process.env, FLEET_HOME: other, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    try {
      await until(() => out.includes("listening"), 20_000, "hub listening");
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      expect((await runCli(["keygen", "--agent-id", "gamma"], other)).code).toBe(0);
      expect((await runCli(["ping", "hub", "--hub", `127.0.0.1:${port}`], other)).code).toBe(0);
      await until(() => out.includes("offline gamma"), 10_000, "gamma's visit logged");
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
    const lines = out.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info |warn |error) /);
    expect(lines.some((l) => / info  hub: online gamma /.test(l))).toBe(true);
  }, 120_000);

  it("a missing bottle is said so, without a protocol code", async () => {
    const r = await runCli(["bottle", "status", "no-such-bottle"], home);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("fleet: no bottle no-such-bottle on this hub\n");
  }, 120_000);
});

describe.skipIf(!hasNatsServer)("fleet CLI over NATS: no talk of a hub", () => {
  let server: NatsServerHandle;
  let home: string;
  beforeAll(async () => {
    server = await startNatsServer();
    home = tmpDir();
    for (const agent of ["nats-alpha", "nats-beta"]) expect((await runCli(["keygen", "--agent-id", agent], home)).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("send, ping, status, bottle speak of NATS; registry list works on the first try", async () => {
    const nats = ["--nats", server.url];
    const sent = await runCli(["send", "nats-beta", "hi", ...nats], home);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/stored by NATS \(JetStream\)/);
    const ping = await runCli(["ping", "hub", ...nats], home);
    expect(ping.stdout).toMatch(/^pong from NATS /);
    const status = await runCli([...nats, "status"], home);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`nats ${server.url} reachable`);
    const bottle = await runCli(["bottle", "send", "nats-beta", "--payload", "{}", "--when", "always", ...nats], home);
    expect(bottle.stdout).toMatch(/held by NATS until always/);
    for (const r of [sent, ping, status, bottle]) expect(r.stdout).not.toMatch(/\bhub\b(?! until)|7420/);
    const list = await runCli(["registry", "list", ...nats, "--json"], home, 30_000);
    expect(list.code, list.stderr).toBe(0);
    expect(last(list.stdout).agents.map((a: { agent: string }) => a.agent)).toContain("nats-alpha");
  }, 120_000);
});
