// `npm run test:python` (tools/python-tests.ts): Debian's interpreter runs the binding's suite,
// and a run that collects no tests (pytest exit 5) fails instead of passing silently.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../tools/generate/paths.js";

const tsx = join(repoRoot, "node_modules/.bin/tsx");
const wrapper = join(repoRoot, "tools/python-tests.ts");

describe("test:python", () => {
  it("fails when pytest collects no tests, and passes and fails with the suite it runs", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-pytests-"));
    try {
      const empty = spawnSync(tsx, [wrapper], { env: { ...process.env, FLEET_PYTHON_TESTS: dir }, encoding: "utf8" });
      expect(empty.status).toBe(1);
      expect(empty.stderr).toContain("collected no tests");
      writeFileSync(join(dir, "test_one.py"), "def test_ok():\n    assert True\n");
      expect(spawnSync(tsx, [wrapper], { env: { ...process.env, FLEET_PYTHON_TESTS: dir }, encoding: "utf8" }).status).toBe(0);
      writeFileSync(join(dir, "test_one.py"), "def test_bad():\n    assert False\n");
      expect(spawnSync(tsx, [wrapper], { env: { ...process.env, FLEET_PYTHON_TESTS: dir }, encoding: "utf8" }).status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
