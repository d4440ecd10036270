// generated/ must equal a fresh generation; generation is deterministic.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffTrees, generatedFresh } from "../../tools/check/gates.js";
import { repoRoot } from "../../tools/generate/paths.js";

describe("generated/ freshness", () => {
  it("the fast parts (proto, rules, types, validators) regenerate byte for byte", async () => {
    expect(await generatedFresh(["proto", "rules", "types", "validators"])(repoRoot)).toEqual([]);
  });

  it("the Python binding's classes, stubs and rules regenerate byte for byte, and a hand edit is named", async () => {
    expect(await generatedFresh(["python"])(repoRoot)).toEqual([]);
    const base = mkdtempSync(join(tmpdir(), "fleet-gen-py-"));
    try {
      const dir = join(base, "bindings/python/fleet_protocol/_proto");
      cpSync(join(repoRoot, "bindings/python/fleet_protocol/_proto"), dir, { recursive: true });
      writeFileSync(join(dir, "rules.py"), "# edited by hand\n");
      mkdirSync(join(dir, "__pycache__"), { recursive: true });
      writeFileSync(join(dir, "__pycache__/rules.cpython-311.pyc"), ""); // bytecode Python writes is not a difference
      expect(await generatedFresh(["python"])(base)).toEqual([
        "bindings/python/fleet_protocol/_proto/rules.py differs from a fresh generation (run npm run generate; never edit generated files)",
      ]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("names edited, missing and extra files", () => {
    const tmp = mkdtempSync(join(tmpdir(), "fleet-gen-diff-"));
    try {
      cpSync(join(repoRoot, "generated/types"), join(tmp, "types"), { recursive: true });
      writeFileSync(join(tmp, "types/fleet/v1/payload.ts"), "// edited by hand\n");
      rmSync(join(tmp, "types/fleet/v1/token.ts"));
      writeFileSync(join(tmp, "types/fleet/v1/stray.ts"), "");
      expect(diffTrees(join(repoRoot, "generated/types"), join(tmp, "types"), "generated/types")).toEqual([
        "generated/types/fleet/v1/payload.ts differs from a fresh generation (run npm run generate; never edit generated files)",
        "generated/types/fleet/v1/token.ts is missing (run npm run generate)",
        "generated/types/fleet/v1/stray.ts is not produced by npm run generate (remove it)",
      ]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("the bundled validators import cleanly as ESM and validate", async () => {
    const v = await import("../../generated/validators/fleet/v1/index.js");
    expect(v.validateRecipient({ agent: "agent-beta" })).toBe(true);
    expect(v.validateRecipient({ agent: "a", group: "g" })).toBe(false);
  });
});
