// The published AsyncAPI HTML docs (generated/docs/, from `npm run generate`) opened in
// headless Chromium over http://: every channel, operation and message named in
// spec/asyncapi/*.yaml must appear in the rendered DOM, every channel in its own operation
// section (not only behind a reply's "View channel details"), every message with its named
// payload schema and its example, the title with the package's version, and no inline code
// wrapped in literal backticks. A full-page screenshot goes to test-artifacts/ for a human
// to look at.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
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
const pkgVersion = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
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

      // Every channel in an operation section of its own, as the page first shows it: the
      // template shows a channel by its address, one without an address (the hub connection,
      // the registry query's reply) by its description. It never prints channel keys.
      const sections = await page.evaluate(() => Array.from(document.querySelectorAll("[id^=operation-]"), (e) => (e as HTMLElement).innerText).join("\n"));
      const missing: string[] = [];
      for (const c of names.channels) {
        const shownAs = c.address ?? c.description.split("\n")[0];
        if (!shownAs || !sections.includes(shownAs)) missing.push(`channel ${c.key} (${shownAs || "no address or description"})`);
      }
      // Inline code is set as code, never between literal backticks (the template's stylesheet
      // adds them as CSS content; tools/generate/docs.ts turns that off).
      const backticks = await page.evaluate(() =>
        Array.from(document.querySelectorAll("code"))
          .filter((c) => [getComputedStyle(c, "::before").content, getComputedStyle(c, "::after").content].some((v) => v.includes("`")))
          .map((c) => c.textContent),
      );
      expect(backticks, "inline code shown between literal backticks").toEqual([]);
      // Reply channels also sit behind "View channel details": open them, as a reader would (one
      // round trip: the page is large and the machine may be busy).
      await page.evaluate(() => {
        for (const b of Array.from(document.querySelectorAll("button"))) if (b.innerText.trim() === "View channel details") b.click();
      });
      const shown = await page.evaluate(() => ({ text: document.body.innerText, ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id) }));
      if (names.title) expect(shown.text).toMatch(new RegExp(`${names.title}\\s+${pkgVersion.replace(/\./g, "\\.")}`));
      expect(shown.text).not.toContain("`");
      for (const o of names.operations) {
        // Sections are "operation-<send|receive|request|reply>-<id>".
        if (!shown.text.includes(o.id) || !shown.ids.some((id) => /^operation-[a-z]+-/.test(id) && id.endsWith(`-${o.id}`))) missing.push(`operation ${o.id}`);
      }
      for (const m of names.messages) if (!shown.text.includes(m)) missing.push(`message ${m}`);
      expect(missing, `not rendered in ${path}`).toEqual([]);

      mkdirSync(artifacts, { recursive: true });
      // The first screen as a reader sees it, and the whole page (before every payload is expanded).
      const stem = `asyncapi-docs-${doc.replace(/(\.asyncapi)?\.ya?ml$/, "")}`;
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(artifacts, `${stem}.png`) });
      await page.screenshot({ path: join(artifacts, `${stem}-full.png`), fullPage: true });
      expect(existsSync(join(artifacts, `${stem}.png`))).toBe(true);

      // Each component message, expanded as a reader would: a payload built on the named
      // Envelope (or Packet) and its body kind, never an anonymous union, and its example.
      await page.evaluate((ids) => {
        for (const id of ids) {
          for (const b of Array.from(document.getElementById(`message-${id}`)?.querySelectorAll("button") ?? [])) if (b.innerText.trim() === "Expand all") b.click();
        }
      }, names.componentMessages);
      await page
        .waitForFunction((ids) => ids.every((id) => document.getElementById(`message-${id}`)?.innerText.includes("Consists of")), names.componentMessages, { timeout: 30_000 })
        .catch(() => undefined); // reported below, message by message
      const messages = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, document.getElementById(`message-${id}`)?.innerText])), names.componentMessages);
      const pageText = await page.evaluate(() => document.body.textContent ?? "");
      for (const id of names.componentMessages) {
        const text = messages[id];
        if (text === undefined) {
          missing.push(`message section ${id}`);
          continue;
        }
        // Built on the named Envelope or Packet, or (a stored statement) the named schema the document gives it.
        const base = names.payloadBases[id];
        if (!base || !["Envelope", "Packet", "SignedGroupStatement"].includes(base) || !text.includes(`Consists of ${base}:`)) missing.push(`message ${id}: payload not built on the named Envelope, Packet or SignedGroupStatement`);
        if (!/And of (body|kind): \w+:/.test(text)) missing.push(`message ${id}: body kind not named`);
        if (/Consists of <anonymous-schema-\d+>|And of <anonymous-schema-\d+>/.test(text)) missing.push(`message ${id}: anonymous payload`);
        // Its example is on the page (in the operations that carry it), by a value only it has.
        for (const marker of names.exampleMarkers[id] ?? []) if (!pageText.includes(marker)) missing.push(`message ${id}: example ${marker} not shown`);
        if (!names.exampleMarkers[id]?.length) missing.push(`message ${id}: no example in the document`);
      }
      expect(missing, `messages in ${path}`).toEqual([]);
      expect(page.errors).toEqual([]);

      await page.close();
      // A 2.5 MB script and a very long page in software rendering: slow on a shared 2-core machine.
    }, 180_000);
  }
});
