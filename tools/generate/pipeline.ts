// `npm run generate` as a function: writes <base>/generated/{proto,rules,codec,types,validators,docs}
// and the Python binding's classes (<base>/bindings/python/fleet_protocol/_proto) from spec/.
// The check calls it with a temporary base and compares.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { renderDocs } from "./docs.js";
import { repoRoot, tool } from "./paths.js";
import { renderFastCodec } from "./fast-codec.js";
import { generatePython, PYTHON_PROTO_DIR } from "./python.js";
import { buildDescriptorSet, loadProtoModel } from "./proto-model.js";
import { renderRules } from "./rules.js";
import { loadSchemaFiles } from "./schema-files.js";
import { renderTypes } from "./types.js";
import { renderValidators } from "./validators.js";

export const GENERATED_PARTS = ["proto", "rules", "codec", "types", "validators", "docs", "python"] as const;
export type GeneratedPart = (typeof GENERATED_PARTS)[number];

function version(pkg: string): string {
  return JSON.parse(readFileSync(join(repoRoot, "node_modules", pkg, "package.json"), "utf8")).version;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Where a part is written, relative to the base. */
export function partDir(part: GeneratedPart): string {
  return part === "python" ? PYTHON_PROTO_DIR : `generated/${part}`;
}

export async function generate(base = repoRoot, parts: readonly GeneratedPart[] = GENERATED_PARTS, log: (line: string) => void = () => {}): Promise<void> {
  const out = (part: string) => join(base, "generated", part);
  if (parts.includes("proto")) {
    // buf.gen.yaml cleans and writes <base>/generated/proto; protoc-gen-es must be on PATH.
    const env = { ...process.env, PATH: `${join(repoRoot, "node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}` };
    execFileSync(tool("buf"), ["generate", "--output", base], { cwd: repoRoot, env, stdio: ["ignore", "ignore", "pipe"] });
    log("generated/proto (buf generate, protoc-gen-es)");
  }
  if (parts.includes("rules")) {
    rmSync(out("rules"), { recursive: true, force: true });
    write(join(out("rules"), "fleet/v1/rules.ts"), renderRules(loadProtoModel()));
    log("generated/rules (field rules from proto comments)");
  }
  if (parts.includes("codec")) {
    rmSync(out("codec"), { recursive: true, force: true });
    write(join(out("codec"), "fleet/v1/fast.ts"), renderFastCodec(buildDescriptorSet(), loadProtoModel()));
    log("generated/codec (straight-line fast paths of the binary codec)");
  }
  const schemas = loadSchemaFiles(repoRoot);
  if (parts.includes("types")) {
    rmSync(out("types"), { recursive: true, force: true });
    const tool = `json-schema-to-typescript ${version("json-schema-to-typescript")}`;
    for (const file of schemas) write(join(out("types"), file.path.replace(/\.schema\.json$/, ".ts")), await renderTypes(file, { tool }));
    log("generated/types (json-schema-to-typescript)");
  }
  if (parts.includes("validators")) {
    rmSync(out("validators"), { recursive: true, force: true });
    const { js, dts } = await renderValidators(schemas, { ajv: version("ajv"), esbuild: version("esbuild") });
    write(join(out("validators"), "fleet/v1/index.js"), js);
    write(join(out("validators"), "fleet/v1/index.d.ts"), dts);
    log("generated/validators (ajv standalone + esbuild)");
  }
  if (parts.includes("docs")) {
    await renderDocs(out("docs"), { cli: version("@asyncapi/cli"), template: version("@asyncapi/html-template") });
    log("generated/docs (AsyncAPI HTML)");
  }
  if (parts.includes("python")) {
    generatePython(base, loadProtoModel());
    log(`${PYTHON_PROTO_DIR} (protoc --python_out --pyi_out, rules)`);
  }
}
