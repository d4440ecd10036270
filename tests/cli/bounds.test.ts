// The CLI under careless or hostile input (issue 12, item 8): file signatures stream in
// constant memory, an unusable FLEET_HOME is a clear error and exit (never a hang), a
// permission problem is reported as EACCES (not "no identity", not exit 0), and real-looking
// paths survive the redactor in everything printed.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, FLEET_BIN, runCli, tmpDir } from "../hub/support.js";

afterEach(cleanup);

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

describe("fleet sign / verify", () => {
  it("hashes a file as a stream: signing /dev/zero for 4 s stays under 200 MiB", async () => {
    const home = tmpDir();
    expect((await runCli(["keygen", "--agent-id", "alpha"], home)).code).toBe(0);
    const child = spawn(process.execPath, [FLEET_BIN, "sign", "/dev/zero", "--out", join(home, "zero.sig")], { env: { ...process.env, FLEET_HOME: home }, stdio: "ignore" });
    const exited = new Promise((r) => child.on("exit", r));
    let peak = 0;
    const end = Date.now() + 4_000;
    while (Date.now() < end && child.exitCode === null) {
      peak = Math.max(peak, rssMiB(child.pid!));
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
    await exited;
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(200);
  }, 20_000);

  it("signs and verifies a file under a real-looking path, and prints the path unredacted", async () => {
    const home = tmpDir();
    expect((await runCli(["keygen", "--agent-id", "alpha"], home)).code).toBe(0);
    const dir = join(tmpDir(), "home/alice/Projects/Fleet2024/keys");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "alpha-release-notes.txt");
    writeFileSync(file, "x".repeat(3_000_000));
    const signed = await runCli(["sign", file], home);
    expect(signed.code).toBe(0);
    expect(signed.stdout).toContain(file);
    expect(signed.stdout).not.toContain("REDACTED");
    const verified = await runCli(["verify", file, `${file}.sig`], home);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`valid: ${file}`);
    writeFileSync(file, "y".repeat(3_000_000));
    const bad = await runCli(["verify", file, `${file}.sig`], home);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`601 SECURITY_SIGNATURE_INVALID: signature does not match ${file}`);
  });
});

describe("an unusable FLEET_HOME", () => {
  it("FLEET_HOME=/proc/x is one clear error and exit 1, not a hang", async () => {
    for (const args of [["status"], ["keygen", "--agent-id", "alpha"]]) {
      const r = await runCli(args, "/proc/x", 30_000); // a hang would still time out here
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/808 DELIVERY_STORE_FAILED: cannot create fleet home \/proc\/x/);
    }
  }, 90_000);

  // Needs root (to run the CLI as uid 65534, for whom the home is unreadable) and a checkout that
  // uid 65534 can read (a clone under a 0700 temp folder is not): otherwise skipped, saying why.
  const nobodyCanRun = process.getuid?.() === 0 && spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(FLEET_BIN)}, 4)`], { uid: 65534, gid: 65534 }).status === 0;
  if (!nobodyCanRun) console.warn("tests/cli/bounds: EACCES case skipped: needs root and a checkout readable by uid 65534");
  it.skipIf(!nobodyCanRun)("a home it may not read is reported as EACCES with exit 1, not as 'no agent identity' with exit 0", async () => {
    const home = tmpDir();
    expect((await runCli(["keygen", "--agent-id", "alpha"], home)).code).toBe(0);
    chmodSync(home, 0o700); // root's; the command runs as nobody (65534)
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [FLEET_BIN, ...args], { uid: 65534, gid: 65534, env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    for (const args of [["status"], ["send", "beta", "hi", "--agent", "alpha"]]) {
      const r = await run(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/EACCES \(permission denied\)/);
      expect(r.stderr).not.toMatch(/no agent identity|no key for/);
    }
  }, 40_000);
});
