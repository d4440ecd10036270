// Chromium's WebCrypto Ed25519 and @noble/ed25519, in the page: same signatures, each
// accepts the other's, and both reject a flipped bit (so the runtime may pick either).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFromSeed } from "../../runtime/crypto/index.js";
import { chromiumMissing } from "./support/chromium.js";
import { openBundlePage, repoRoot, type BundlePage } from "./support/bundle-page.js";

describe.skipIf(chromiumMissing)("WebCrypto vs @noble in Chromium", () => {
  let bp: BundlePage;
  beforeAll(async () => {
    bp = await openBundlePage({ modules: { ed25519: join(repoRoot, "tests/browser/support/ed25519-page.ts") } });
  });
  afterAll(async () => {
    await bp?.close();
  });

  it("has Ed25519 and X25519 in WebCrypto", async () => {
    const support = await bp.page.evaluate(() => window.pageModules.ed25519.webCryptoSupport());
    expect(support).toEqual({ ed25519: true, x25519: true });
  });

  it("signs identically with both backends and cross-verifies, matching Node", async () => {
    const seed = Array.from({ length: 32 }, (_, i) => i);
    const messages = [[], [1], Array.from({ length: 200 }, (_, i) => i & 0xff), Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff)];
    const got = await bp.page.evaluate(([seed, messages]) => window.pageModules.ed25519.crossCheck(seed, messages), [seed, messages] as const);
    expect(got.identical).toBe(true);
    expect(got.crossVerified).toBe(true);
    const node = identityFromSeed("node", new Uint8Array(seed));
    expect(got.signatures).toEqual(messages.map((m) => Buffer.from(node.sign(new Uint8Array(m))).toString("hex")));
    expect(bp.page.errors).toEqual([]);
  });
});
