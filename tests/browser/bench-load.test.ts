// The browser bench suite loads the way `npm run bench` loads it (tsx, outside vitest): its
// support imports must not pull in vitest.
import { execFileSync } from "node:child_process";
import { expect, it } from "vitest";
import { repoRoot } from "./support/bundle-page.js";

it("bench/suites/browser.ts loads outside vitest", () => {
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", 'const m = await import("./bench/suites/browser.ts"); console.log(m.suite.name, typeof m.suite.run);'], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(out.trim()).toBe("browser function");
});
