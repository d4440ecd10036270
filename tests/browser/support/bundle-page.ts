// One Chromium page with the browser bundle loaded as `window.fleet`, served over http://
// beside the golden fixtures: the starting point of every in-page test.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { buildBrowser } from "../../../tools/build-browser.js";
import type * as Fleet from "../../../runtime/browser/index.js";
import { launchChromium, type LaunchedBrowser } from "./chromium.js";
import { startStaticServer, type StaticServer } from "./static-server.js";

declare global {
  interface Window {
    fleet: typeof Fleet;
  }
}

const root = join(import.meta.dirname, "../../..");

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>fleet browser test</title><link rel="icon" href="data:,"></head>
<body><script type="module">
  import * as fleet from "/fleet.js";
  window.fleet = fleet;
  document.body.dataset.ready = "1";
</script></body></html>`;

export interface BundlePage {
  readonly page: Page & { errors: string[] };
  readonly server: StaticServer;
  readonly browser: LaunchedBrowser;
  close(): Promise<void>;
}

let bundle: Promise<Map<string, Uint8Array>> | undefined;

/** The bundle built once per test file, in memory (dist/ is not touched). */
export function browserBundle(): Promise<Map<string, Uint8Array>> {
  bundle ??= buildBrowser({ write: false, outdir: "/virtual" }).then((r) => r.files);
  return bundle;
}

export async function openBundlePage(extraFiles: Record<string, string | Uint8Array> = {}): Promise<BundlePage> {
  const files = await browserBundle();
  const server = await startStaticServer({
    dirs: { "/fixtures/": join(root, "fixtures") },
    files: {
      "/index.html": INDEX_HTML,
      "/fleet.js": files.get("fleet.js")!,
      "/fleet.js.map": files.get("fleet.js.map") ?? "",
      ...extraFiles,
    },
  });
  let browser: LaunchedBrowser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    // Functions passed to page.evaluate are transpiled by vitest; esbuild's keepNames helper may appear in them.
    await page.addInitScript("globalThis.__name = (f) => f;");
    await page.goto(`${server.origin}/index.html`);
    await page.waitForSelector("body[data-ready='1']", { state: "attached", timeout: 15_000 });
    const b = browser;
    return {
      page,
      server,
      browser: b,
      async close() {
        await b.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}
