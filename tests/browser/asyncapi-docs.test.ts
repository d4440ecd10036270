// The published AsyncAPI HTML docs (generated/docs/, from `npm run generate`) opened in
// headless Chromium over http://: every channel, operation and message named in
// spec/asyncapi/*.yaml must appear in the rendered DOM. A full-page screenshot goes to
// test-artifacts/ for a human to look at.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "./support/bundle-page.js";
import { asyncApiNames } from "./support/asyncapi-names.js";
import { launchChromium, type LaunchedBrowser } from "./support/chromium.js";
import { describeBrowser } from "./support/describe-browser.js";
import { startStaticServer, type StaticServer } from "./support/static-server.js";

const specDir = join(repoRoot, "spec/asyncapi");
const docsDir = join(repoRoot, "generated/docs");
const artifacts = join(repoRoot, "test-artifacts");
const documents = existsSync(specDir) ? readdirSync(specDir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];

/** generated/docs/<stem>/index.html for several documents, generated/docs/index.html for one. */
function htmlFor(doc: string): string {
  const stem = basename(doc).replace(/(\.asyncapi)?\.ya?ml$/, "");
  const nested = join(docsDir, stem, "index.html");
  return existsSync(nested) ? nested : join(docsDir, "index.html");
}

describeBrowser("AsyncAPI HTML docs in Chromium", () => {
  let browser: LaunchedBrowser;
  let server: StaticServer;
  beforeAll(async () => {
    server = await startStaticServer({ dirs: { "/": docsDir } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("has AsyncAPI documents and generated docs for them", () => {
    expect(documents.length, `no AsyncAPI document in ${specDir}`).toBeGreaterThan(0);
    for (const doc of documents) expect(existsSync(htmlFor(doc)), `${htmlFor(doc)} missing: run npm run generate`).toBe(true);
  });

  for (const doc of documents) {
    it(`renders every channel, operation and message of ${doc}`, async () => {
      const names = asyncApiNames(join(specDir, doc));
      expect(names.channels.length).toBeGreaterThan(0);
      expect(names.operations.length).toBeGreaterThan(0);
      expect(names.messages.length).toBeGreaterThan(0);

      const page = await browser.newPage();
      await page.setViewportSize({ width: 1400, height: 900 });
      const path = htmlFor(doc).slice(docsDir.length).split("\\").join("/");
      const response = await page.goto(`${server.origin}${path}`, { timeout: 60_000 });
      expect(response?.status()).toBe(200);
      await page.waitForLoadState("networkidle");
      // The page is server-rendered then hydrated by its own script: wait for the operations list.
      await page.waitForSelector("#operations", { timeout: 60_000 });

      // Reply channels sit behind "View channel details": open them, as a reader would (one
      // round trip: the page is large and the machine may be busy).
      await page.evaluate(() => {
        for (const b of Array.from(document.querySelectorAll("button"))) if (b.innerText.trim() === "View channel details") b.click();
      });
      const shown = await page.evaluate(() => ({ text: document.body.innerText, ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id) }));
      if (names.title) expect(shown.text).toContain(names.title);
      const missing: string[] = [];
      // The template shows a channel by its address; one without an address (the hub connection)
      // by its description. It never prints channel keys.
      for (const c of names.channels) {
        const shownAs = c.address ?? c.description.split("\n")[0];
        if (!shownAs || !shown.text.includes(shownAs)) missing.push(`channel ${c.key} (${shownAs || "no address or description"})`);
      }
      for (const o of names.operations) {
        // Sections are "operation-<send|receive|request|reply>-<id>".
        if (!shown.text.includes(o.id) || !shown.ids.some((id) => /^operation-[a-z]+-/.test(id) && id.endsWith(`-${o.id}`))) missing.push(`operation ${o.id}`);
      }
      for (const m of names.messages) if (!shown.text.includes(m)) missing.push(`message ${m}`);
      expect(missing, `not rendered in ${path}`).toEqual([]);
      expect(page.errors).toEqual([]);

      mkdirSync(artifacts, { recursive: true });
      // The first screen as a reader sees it, and the whole page.
      const stem = `asyncapi-docs-${doc.replace(/(\.asyncapi)?\.ya?ml$/, "")}`;
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(artifacts, `${stem}.png`) });
      await page.screenshot({ path: join(artifacts, `${stem}-full.png`), fullPage: true });
      expect(existsSync(join(artifacts, `${stem}.png`))).toBe(true);
      await page.close();
      // A 2.5 MB script and a very long page in software rendering: slow on a shared 2-core machine.
    }, 120_000);
  }
});
