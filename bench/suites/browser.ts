// Ed25519 in headless Chromium: WebCrypto (what the runtime picks in browsers) beside
// @noble/ed25519 (its fallback), same 200-byte message, same page. Skips without chromium.
import { join } from "node:path";
import type { BenchRow, BenchSuite } from "../harness.js";
import { chromiumMissing } from "../../tests/browser/support/chromium.js";
import { openBundlePage, repoRoot } from "../../tests/browser/support/bundle-page.js";
import type { Ed25519Rates, EnvelopeRates } from "../../tests/browser/support/webcrypto-page.js";

export const suite: BenchSuite = {
  name: "browser",
  async run(): Promise<BenchRow[]> {
    if (chromiumMissing) {
      process.stderr.write(`bench: browser skipped: ${chromiumMissing}\n`);
      return [];
    }
    const bp = await openBundlePage({ modules: { webcrypto: join(repoRoot, "tests/browser/support/webcrypto-page.ts") } });
    try {
      const r: Ed25519Rates = await bp.page.evaluate(() => window.pageModules.webcrypto.ed25519Rates(600, 200, 32));
      const e: EnvelopeRates = await bp.page.evaluate(() => window.pageModules.webcrypto.envelopeRates(window.fleet, 600));
      const browser = bp.browser.context.browser()?.version() ?? "chromium";
      const row = (name: string, rate: number, anchor?: string, bytes: number | string = 200): BenchRow => ({ suite: "browser", name, rate, unit: "ops/s", anchor, extra: { browser, bytes } });
      return [
        row("ed25519 sign webcrypto", r.webcryptoSign),
        row("ed25519 sign webcrypto x32 in flight", r.webcryptoSignParallel, "ed25519 sign webcrypto"),
        row("ed25519 sign noble", r.nobleSign, "ed25519 sign webcrypto"),
        row("ed25519 verify webcrypto", r.webcryptoVerify),
        row("ed25519 verify webcrypto x32 in flight", r.webcryptoVerifyParallel, "ed25519 verify webcrypto"),
        row("ed25519 verify noble", r.nobleVerify, "ed25519 verify webcrypto"),
        // The runtime's envelope API in the page: sync = noble, async = WebCrypto.
        row("signEnvelopeAsync (webcrypto)", e.signAsync, undefined, "envelope"),
        row("signEnvelope sync (noble)", e.signSync, "signEnvelopeAsync (webcrypto)", "envelope"),
        row("openSignedEnvelopeAsync (webcrypto)", e.openAsync, undefined, "envelope"),
        row("openSignedEnvelope sync (noble)", e.openSync, "openSignedEnvelopeAsync (webcrypto)", "envelope"),
      ];
    } finally {
      await bp.close();
    }
  },
};
