// Launches Debian's chromium (not a downloaded Playwright build) through playwright-core,
// headless with a fresh profile, so browser tests and the browser bench run what users run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

let found: string | null | undefined;

/** Path of `command -v chromium`, or undefined when chromium is not installed. */
export function findChromium(): string | undefined {
  if (found === undefined) {
    try {
      found = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim() || null;
    } catch {
      found = null;
    }
  }
  return found ?? undefined;
}

/** Why browser tests skip, or undefined when they can run. */
export const chromiumMissing = findChromium()
  ? undefined
  : "chromium is not installed (apt-get install -y chromium)";

export interface LaunchedBrowser {
  readonly context: BrowserContext;
  /** A new page whose uncaught errors and console errors are collected in `errors`. */
  newPage(): Promise<Page & { errors: string[] }>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(chromiumMissing);
  // A fresh --user-data-dir per launch; playwright passes it as --user-data-dir itself.
  const profile = mkdtempSync(join(tmpdir(), "fleet-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    context,
    async newPage() {
      const page = (await context.newPage()) as Page & { errors: string[] };
      page.errors = [];
      page.on("pageerror", (e) => page.errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") page.errors.push(m.text());
      });
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
