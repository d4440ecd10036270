// The browser bundle: built by the same function `npm run build:browser` uses, it refuses
// any Node built-in, and what it exports runs in a real Chromium page.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBrowser } from "../../tools/build-browser.js";
import { keyIdFor } from "../../runtime/crypto/keyid.js";
import { ErrorCode } from "../../runtime/errors.js";
import { pae, u64be } from "../../runtime/crypto/pae.js";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, type BundlePage } from "./support/bundle-page.js";

describe("browser bundle build", () => {
  it("bundles the core as one ESM file with no Node built-in left in it", async () => {
    const { files, bytes } = await buildBrowser({ write: false, outdir: "/virtual" });
    expect(bytes).toBeGreaterThan(1000);
    const text = new TextDecoder().decode(files.get("fleet.js"));
    expect(text).not.toMatch(/from\s*["']node:|require\(["']node:|import\(["']node:/);
    expect(text).toMatch(/^export\s*{/m);
  });

  it("fails when a node: import reaches the graph, naming the importer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-guard-"));
    try {
      writeFileSync(join(dir, "leaf.ts"), 'import { randomBytes } from "node:crypto";\nexport const r = () => randomBytes(4);\n');
      writeFileSync(join(dir, "entry.ts"), 'export { r } from "./leaf.js";\n');
      await expect(buildBrowser({ entries: { bad: join(dir, "entry.ts") }, write: false, outdir: "/virtual" })).rejects.toThrow(/node:crypto.*leaf\.ts/s);
      // Bare built-in names are Node built-ins too.
      writeFileSync(join(dir, "leaf.ts"), 'import { readFileSync } from "fs";\nexport const r = readFileSync;\n');
      await expect(buildBrowser({ entries: { bad: join(dir, "entry.ts") }, write: false, outdir: "/virtual" })).rejects.toThrow(/"fs".*leaf\.ts/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the browser stand-in for #transport-tcp, but still refuses a static import of the TCP carrier", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-guard-"));
    const tcp = relative(dir, join(import.meta.dirname, "../../runtime/transport/tcp.js"));
    try {
      writeFileSync(join(dir, "lazy.ts"), `export const open = () => import("#transport-tcp").then((m) => m.connectTcp("127.0.0.1", 1));\n`);
      const { files } = await buildBrowser({ entries: { lazy: join(dir, "lazy.ts") }, write: false, outdir: "/virtual" });
      const text = new TextDecoder().decode(files.get("lazy.js"));
      expect(text).toContain("TCP is not available in browsers");
      expect(text).not.toContain("node:net");
      writeFileSync(join(dir, "eager.ts"), `export { connectTcp } from ${JSON.stringify(tcp)};\n`);
      await expect(buildBrowser({ entries: { eager: join(dir, "eager.ts") }, write: false, outdir: "/virtual" })).rejects.toThrow(/node:net.*tcp\.ts/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeBrowser("browser bundle in Chromium", () => {
  let bp: BundlePage;
  beforeAll(async () => {
    bp = await openBundlePage();
  });
  afterAll(async () => {
    await bp?.close();
  });

  it("loads as an ES module over http:// in a secure context", async () => {
    const info = await bp.page.evaluate(() => ({ secure: isSecureContext, hasFleet: typeof window.fleet === "object", subtle: typeof crypto.subtle }));
    expect(info).toEqual({ secure: true, hasFleet: true, subtle: "object" });
  });

  it("computes PAE bytes and key ids identical to Node", async () => {
    const pk = Array.from({ length: 32 }, (_, i) => i * 7);
    const got = await bp.page.evaluate((pk) => {
      const f = window.fleet;
      const bytes = f.pae(f.Domain.envelope, "text/plain", new Uint8Array([1, 2, 3]), f.u64be(258));
      return { pae: Array.from(bytes), keyId: f.keyIdFor(new Uint8Array(pk)) };
    }, pk);
    expect(got.pae).toEqual(Array.from(pae("fleet.v1.envelope", "text/plain", new Uint8Array([1, 2, 3]), u64be(258))));
    expect(got.keyId).toBe(keyIdFor(new Uint8Array(pk)));
    expect(bp.page.errors).toEqual([]);
  });

  it("answers a TCP connect in the browser with a typed error pointing at ws://", async () => {
    const got = await bp.page.evaluate(async () => {
      const f = window.fleet;
      try {
        await f.connectHub({ port: 7420, identity: f.generateIdentity("no-tcp") });
        return "connected";
      } catch (e) {
        return e instanceof f.FleetError ? { code: e.code, message: e.message } : String(e);
      }
    });
    expect(got).toEqual({ code: ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, message: expect.stringContaining("ws://") });
  });
});
