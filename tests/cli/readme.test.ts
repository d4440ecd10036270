// Every ```sh block of README.md (but the Bridges section's) runs as written (bash -euo pipefail, from the repository
// root, a fresh FLEET_HOME), background jobs it starts (`fleet hub &`, `nats-server &`) are
// stopped after it. The set-up block is the one exception: it is what CI itself runs
// (`npm ci && npx fleet demo`, then `npm test`), so here it is checked to be exactly those two
// commands, not run inside the test suite it starts.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanup, ROOT, tmpDir } from "../hub/support.js";
import { hasNatsServer } from "../support/nats-server.js";

const README = readFileSync(join(ROOT, "README.md"), "utf8");
// The Bridges section's blocks start bridges to outside peers (TLS certificates, a git
// repository, a NATS fleet) that tests/bridges sets up itself: not run from here.
const bridges = README.indexOf("\n## Bridges");
const nextSection = bridges < 0 ? -1 : README.indexOf("\n## ", bridges + 1);
const outsideBridges = (at: number) => bridges < 0 || at < bridges || (nextSection >= 0 && at > nextSection);
const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].filter((m) => outsideBridges(m.index!)).map((m) => m[1]!);
/** A block's commands, comments and blank lines dropped. */
const commands = (block: string) => block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean);

function runBlock(block: string, home: string): Promise<{ code: number | null; out: string }> {
  // Background jobs (each its own process group under set -m) die with the block, with their
  // children (npx -> node); the block's own status is kept.
  const script = `set -m\ntrap 'code=$?; for p in $(jobs -p); do kill -- -$p 2>/dev/null; done; wait 2>/dev/null; exit $code' EXIT\nset -euo pipefail\n${block}`;
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], { cwd: ROOT, env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "", FLEET_NATS: "" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 500_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("README command blocks", () => {
  afterAll(cleanup);

  it("keeps the set-up to two commands, the ones CI runs", () => {
    expect(commands(blocks[0]!)).toEqual(["npm ci && npx fleet demo", "npm test"]);
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toMatch(/\nnpm ci --no-audit --no-fund\nnpm test\n/);
  });

  for (const [i, block] of blocks.entries()) {
    if (i === 0) continue;
    const needsNats = /nats-server/.test(block);
    it.skipIf(needsNats && !hasNatsServer)(`runs block ${i} as written: ${block.split("\n")[0]}`, async () => {
      const r = await runBlock(block, tmpDir());
      expect(r.code, r.out).toBe(0);
    }, 560_000);
  }
});
