// `npm run build` (and prepack): the published package's dist/.
//   1. tsc -p tsconfig.build.json: compiled ESM and .d.ts (with their doc comments) for
//      runtime/ and generated/, into a fresh dist/runtime and dist/generated.
//   2. esbuild re-prints every compiled .js file on its own (no bundling, imports and names
//      untouched), without comments, and without whitespace except in generated/proto, whose
//      `/* @__PURE__ */` annotations a consumer's bundler needs to drop what is not imported
//      (tests/package: ErrorCode alone is a few KiB). The .d.ts files keep every doc comment;
//      the readable source is runtime/ in the repository.
// Together with X25519's RFC 7748 ladder in place of @noble/curves and `ws` as an optional
// peer, this keeps a core install under 5 MB unpacked (tests/package/consumers.test.ts).
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";

const DIST = "dist";
for (const d of ["runtime", "generated"]) rmSync(join(DIST, d), { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".js"))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

const options = { outbase: DIST, outdir: DIST, allowOverwrite: true, format: "esm", bundle: false, legalComments: "none", logLevel: "warning" } as const;
const compiled = [...jsFiles(join(DIST, "runtime")), ...jsFiles(join(DIST, "generated"))];
buildSync({ ...options, entryPoints: compiled });
// esbuild's minified output drops `/* @__PURE__ */`: the generated protobuf-es descriptors
// (whose annotations keep @bufbuild/protobuf's reflection out of a bundle that imports only an
// enum) keep their line breaks; everything else is minified.
const proto = join(DIST, "generated", "proto");
buildSync({ ...options, entryPoints: compiled.filter((f) => !f.startsWith(proto)), minifyWhitespace: true });
