// The golden fixtures' meaning (tools/fixtures/meaning.ts), verified inside Chromium by the
// browser bundle from fixtures/ alone: decode/encode byte equality, PAE bytes, every signature
// (the runtime and WebCrypto), transcripts, session keys, MACs, Finished values, AEAD seals,
// postmarks, tokens, and every negative vector's code and pointer. Same files, same answers
// as on Node (tests/fixtures/meaning.test.ts).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, repoRoot, type BundlePage } from "./support/bundle-page.js";
import type { FixtureReport } from "./support/fixtures-page.js";

const files = readdirSync(join(repoRoot, "fixtures")).filter((f) => f.endsWith(".json") && f !== "manifest.json");

describeBrowser("golden fixtures in Chromium", () => {
  let bp: BundlePage;
  beforeAll(async () => {
    bp = await openBundlePage({ modules: { fixtures: join(repoRoot, "tests/browser/support/fixtures-page.ts") } });
  });
  afterAll(async () => {
    await bp?.close();
  });

  it("every set verifies in the page", async () => {
    const report: FixtureReport = await bp.page.evaluate(() => window.pageModules.fixtures.verifyFixtures(window.fleet));
    expect(report.failures).toEqual([]);
    expect(report.unknownSets, "a fixture set without an in-page verifier").toEqual([]);
    expect(Object.keys(report.checks)).toEqual(expect.arrayContaining(files.map((f) => f.replace(/\.json$/, ""))));
    for (const [set, n] of Object.entries(report.checks)) expect(n, set).toBeGreaterThan(0);
    expect(report.ed25519).toEqual(["webcrypto"]);
    expect(bp.page.errors).toEqual([]);
  });
});
