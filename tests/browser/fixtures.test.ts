// The golden fixtures, verified inside Chromium by the browser bundle: decode/encode byte
// equality, PAE bytes, signature vectors (the runtime and WebCrypto), session keys, tokens,
// and every negative vector's error code. Same files, same answers as on Node.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, repoRoot, type BundlePage } from "./support/bundle-page.js";
import type { FixtureReport } from "./support/fixtures-page.js";

const files = readdirSync(join(repoRoot, "fixtures")).filter((f) => f.endsWith(".json") && f !== "manifest.json");
const manifest = existsSync(join(repoRoot, "fixtures/manifest.json"));

describeBrowser("golden fixtures in Chromium", () => {
  let bp: BundlePage;
  beforeAll(async () => {
    bp = await openBundlePage({ modules: { fixtures: join(repoRoot, "tests/browser/support/fixtures-page.ts") } });
  });
  afterAll(async () => {
    await bp?.close();
  });

  it("every set verifies in the page", async () => {
    const report: FixtureReport = await bp.page.evaluate((opts) => window.pageModules.fixtures.verifyFixtures(window.fleet, opts), { manifest, files });
    expect(report.failures).toEqual([]);
    expect(report.unknownSets, "a fixture set without an in-page verifier").toEqual([]);
    expect(Object.keys(report.checks)).toEqual(expect.arrayContaining(files.map((f) => f.replace(/\.json$/, ""))));
    for (const [set, n] of Object.entries(report.checks)) expect(n, set).toBeGreaterThan(0);
    expect(report.ed25519).toEqual(["webcrypto"]);
    expect(bp.page.errors).toEqual([]);
  });
});
