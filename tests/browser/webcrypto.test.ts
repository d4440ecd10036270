// Chromium's WebCrypto Ed25519 and @noble/ed25519, in the page: same signatures, each
// accepts the other's, and both reject a flipped bit (so the runtime may pick either).
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { identityFromSeed, x25519PublicKey, x25519SharedSecret } from "../../runtime/crypto/index.js";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, repoRoot, type BundlePage } from "./support/bundle-page.js";

describeBrowser("WebCrypto vs @noble in Chromium", () => {
  let bp: BundlePage;
  beforeAll(async () => {
    bp = await openBundlePage({ modules: { webcrypto: join(repoRoot, "tests/browser/support/webcrypto-page.ts") } });
  });
  afterAll(async () => {
    await bp?.close();
  });

  it("has Ed25519 and X25519 in WebCrypto", async () => {
    const support = await bp.page.evaluate(() => window.pageModules.webcrypto.webCryptoSupport());
    expect(support).toEqual({ ed25519: true, x25519: true });
  });

  it("signs identically with both backends and cross-verifies, matching Node", async () => {
    const seed = Array.from({ length: 32 }, (_, i) => i);
    const messages = [[], [1], Array.from({ length: 200 }, (_, i) => i & 0xff), Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff)];
    const got = await bp.page.evaluate(([seed, messages]) => window.pageModules.webcrypto.crossCheck(seed, messages), [seed, messages] as const);
    expect(got.identical).toBe(true);
    expect(got.crossVerified).toBe(true);
    const node = identityFromSeed("node", new Uint8Array(seed));
    expect(got.signatures).toEqual(messages.map((m) => Buffer.from(node.sign(new Uint8Array(m))).toString("hex")));
    expect(bp.page.errors).toEqual([]);
  });

  it("agrees on X25519 shared secrets between WebCrypto, @noble and Node", async () => {
    const a = Array.from({ length: 32 }, (_, i) => (i * 3 + 1) & 0xff);
    const b = Array.from({ length: 32 }, (_, i) => (i * 5 + 2) & 0xff);
    const got = await bp.page.evaluate(([a, b]) => window.pageModules.webcrypto.x25519Agree(a, b), [a, b] as const);
    const node = Buffer.from(x25519SharedSecret(new Uint8Array(a), x25519PublicKey(new Uint8Array(b)))).toString("hex");
    expect(got.webcrypto).toBe(node);
    expect(got.noble).toBe(node);
    expect(got.publicA).toBe(Buffer.from(x25519PublicKey(new Uint8Array(a))).toString("hex"));
  });

  it("runtime backend selection in the page: no node:crypto, WebCrypto chosen for async signing, same bytes as Node", async () => {
    const seed = Array.from({ length: 32 }, (_, i) => 255 - i);
    const msg = [1, 2, 3, 4, 5];
    const got = await bp.page.evaluate(
      async ([seed, msg]) => {
        const f = window.fleet;
        const available: Record<string, boolean> = {};
        for (const b of f.ed25519Backends) available[b.name] = await b.available();
        const id = f.identityFromSeed("browser", new Uint8Array(seed));
        // Count WebCrypto signing calls, to see which backend signAsync really used.
        const subtle = crypto.subtle as SubtleCrypto & { sign: SubtleCrypto["sign"] };
        const original = subtle.sign.bind(subtle);
        let webSigns = 0;
        subtle.sign = (...args: Parameters<SubtleCrypto["sign"]>) => {
          webSigns++;
          return original(...args);
        };
        const sig = await id.signAsync(new Uint8Array(msg));
        subtle.sign = original;
        return {
          available,
          webSigns,
          keyId: id.keyId,
          sig: f.toHex(sig),
          syncSig: f.toHex(id.sign(new Uint8Array(msg))),
          verifies: await f.verifyEd25519Async(id.publicKey, new Uint8Array(msg), sig),
          rejects: !(await f.verifyEd25519Async(id.publicKey, new Uint8Array([...msg, 6]), sig)),
        };
      },
      [seed, msg] as const,
    );
    const node = identityFromSeed("browser", new Uint8Array(seed));
    expect(got.available).toEqual({ node: false, webcrypto: true, noble: true });
    expect(got.webSigns).toBe(1);
    expect(got.keyId).toBe(node.keyId);
    expect(got.sig).toBe(Buffer.from(node.sign(new Uint8Array(msg))).toString("hex"));
    expect(got.syncSig).toBe(got.sig);
    expect(got.verifies).toBe(true);
    expect(got.rejects).toBe(true);
  });
});
