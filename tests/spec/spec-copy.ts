// A disposable copy of spec/ and buf.yaml, to break on purpose and run a gate against.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../tools/generate/paths.js";

export interface SpecCopy {
  root: string;
  edit(path: string, change: (text: string) => string): void;
  remove(): void;
}

export function specCopy(): SpecCopy {
  const root = mkdtempSync(join(tmpdir(), "fleet-spec-"));
  cpSync(join(repoRoot, "spec"), join(root, "spec"), { recursive: true });
  cpSync(join(repoRoot, "buf.yaml"), join(root, "buf.yaml"));
  return {
    root,
    edit(path, change) {
      const file = join(root, path);
      const before = readFileSync(file, "utf8");
      const after = change(before);
      if (after === before) throw new Error(`edit of ${path} changed nothing`);
      writeFileSync(file, after);
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function editJson(copy: SpecCopy, path: string, change: (json: any) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  copy.edit(path, (text) => {
    const json = JSON.parse(text);
    change(json);
    return JSON.stringify(json, null, 2);
  });
}
