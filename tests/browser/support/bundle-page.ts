// One Chromium page with the browser bundle loaded as `window.fleet` (and any extra page
// modules as `window.pageModules[name]`), served over http:// beside the golden fixtures:
// the starting point of every in-page test and of the browser bench.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { BROWSER_ENTRY, buildBrowser } from "../../../tools/build-browser.js";
import type * as Fleet from "../../../runtime/browser/index.js";
import { launchChromium, type LaunchedBrowser } from "./chromium.js";
import { startStaticServer, type StaticServer } from "./static-server.js";

declare global {
  interface Window {
    fleet: typeof Fleet;
    pageModules: Record<string, any>;
  }
}

export const repoRoot = join(import.meta.dirname, "../../..");

function indexHtml(modules: string[]): string {
  const imports = ["fleet", ...modules].map((m, i) => `import * as m${i} from "/${m}.js";`).join("\n  ");
  const assigns = modules.map((m, i) => `window.pageModules[${JSON.stringify(m)}] = m${i + 1};`).join("\n  ");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>fleet browser test</title><link rel="icon" href="data:,"></head>
<body><script type="module">
  ${imports}
  window.fleet = m0;
  window.pageModules = {};
  ${assigns}
  document.body.dataset.ready = "1";
</script></body></html>`;
}

export interface BundlePage {
  readonly page: Page & { errors: string[] };
  readonly server: StaticServer;
  readonly browser: LaunchedBrowser;
  close(): Promise<void>;
}

export interface BundlePageOptions {
  /** Extra page modules: name -> entry file, bundled with the same node: guard, served as /<name>.js. */
  modules?: Record<string, string>;
  /** Extra in-memory files to serve. */
  files?: Record<string, string | Uint8Array>;
  /** Script source run in the page before any of its own scripts (e.g. to wrap crypto.subtle). */
  initScript?: string;
}

export async function openBundlePage(options: BundlePageOptions = {}): Promise<BundlePage> {
  const modules = options.modules ?? {};
  // Built in memory: dist/ is not touched by tests.
  const { files } = await buildBrowser({ entries: { fleet: BROWSER_ENTRY, ...modules }, write: false, outdir: "/virtual" });
  const served: Record<string, string | Uint8Array> = { "/index.html": indexHtml(Object.keys(modules)), ...options.files };
  for (const [name, bytes] of files) served[`/${name}`] = bytes;
  const server = await startStaticServer({ dirs: { "/fixtures/": join(repoRoot, "fixtures") }, files: served });
  let browser: LaunchedBrowser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    // Functions passed to page.evaluate are transpiled by vitest; esbuild's keepNames helper may appear in them
    // (and in initScript, when it is a stringified function): one script, so the helper is defined first.
    await page.addInitScript(`globalThis.__name = (f) => f;\n${options.initScript ?? ""}`);
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
