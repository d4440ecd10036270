// `npm run build:browser`: bundles the browser entry (runtime/browser/index.ts: the core plus
// the WebSocket transport) into dist/browser/fleet.js as one ESM file. The build FAILS if any
// Node built-in (node:fs, "crypto", ...) is imported anywhere in the graph: that is how the
// rule "the core never imports node:" is enforced rather than hoped for.
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BROWSER_ENTRY = join(root, "runtime/browser/index.ts");
export const BROWSER_OUTDIR = join(root, "dist/browser");

const builtins = new Set(builtinModules.filter((m) => !m.startsWith("_")));

/** True for "node:x" and for bare built-in names ("fs", "crypto/x" is not one, "fs/promises" is). */
export function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || builtins.has(specifier);
}

// The core reaches TCP only through "#transport-tcp" (a dynamic import taken on Node alone).
// A consumer's bundler resolves it through package.json "imports" to the compiled
// browser/no-tcp.js; this build reads the sources, where tsconfig.json "paths" names the
// Node file, so it takes the source stand-in here. A static import of node:net anywhere
// still fails the build through the node: guard.
const BROWSER_SUBSTITUTES: Record<string, string> = {
  "#transport-tcp": "runtime/browser/no-tcp.ts",
};

/** Resolves "#transport-tcp" to the source browser stand-in. */
export function browserSubstitutesPlugin(): Plugin {
  return {
    name: "fleet-browser-substitutes",
    setup(b) {
      b.onResolve({ filter: /^#/ }, (args) => {
        const substitute = BROWSER_SUBSTITUTES[args.path];
        return substitute ? { path: join(root, substitute) } : undefined;
      });
    },
  };
}

/** An esbuild plugin that turns every import of a Node built-in into a build error naming the importer. */
export function nodeGuardPlugin(): Plugin {
  return {
    name: "fleet-node-guard",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (!isNodeBuiltin(args.path)) return undefined;
        const from = args.importer ? relative(root, args.importer) : "(entry)";
        return {
          errors: [{ text: `Node built-in "${args.path}" imported by ${from} (${args.kind}): the browser core must not import node: modules` }],
        };
      });
    },
  };
}

export interface BrowserBuildOptions {
  /** Output name -> entry file; default { fleet: runtime/browser/index.ts }. */
  entries?: Record<string, string>;
  outdir?: string;
  /** false: keep the output in memory (tests serve it without touching dist/). */
  write?: boolean;
  minify?: boolean;
}

export interface BrowserBuildResult {
  /** Output file name (fleet.js, fleet.js.map, one pair per entry) -> bytes. */
  files: Map<string, Uint8Array>;
  /** Size of fleet.js in bytes. */
  bytes: number;
}

export async function buildBrowser(options: BrowserBuildOptions = {}): Promise<BrowserBuildResult> {
  const outdir = options.outdir ?? BROWSER_OUTDIR;
  const result = await build({
    entryPoints: options.entries ?? { fleet: BROWSER_ENTRY },
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: "linked",
    minify: options.minify ?? false,
    write: options.write ?? true,
    logLevel: "silent",
    plugins: [browserSubstitutesPlugin(), nodeGuardPlugin()],
  });
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles ?? []) files.set(relative(outdir, f.path), f.contents);
  if (options.write ?? true) {
    const { readdirSync, readFileSync } = await import("node:fs");
    for (const name of readdirSync(outdir)) files.set(name, readFileSync(join(outdir, name)));
  }
  return { files, bytes: files.get("fleet.js")?.length ?? 0 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const minify = process.argv.includes("--minify");
    const { bytes } = await buildBrowser({ minify });
    console.log(`dist/browser/fleet.js: ${(bytes / 1024).toFixed(1)} KiB${minify ? " (minified)" : ""}`);
  } catch (e) {
    // esbuild's error already lists every offending import with its importer.
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  }
}
