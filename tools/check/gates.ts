// The gates of `npm run check`. Each takes the root holding spec/ and buf.yaml (the repository,
// or a modified copy in tests) and returns one line per failure; an empty list passes.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { createAjv } from "../generate/ajv.js";
import { runAsyncapi } from "../generate/asyncapi.js";
import { ASYNCAPI_DOC } from "../generate/docs.js";
import { repoRoot, tool } from "../generate/paths.js";
import { generate, GENERATED_PARTS, partDir, type GeneratedPart } from "../generate/pipeline.js";
import { loadProtoModel } from "../generate/proto-model.js";
import { loadSchemaFiles } from "../generate/schema-files.js";
import { compareProtoAndSchemas } from "./compare-schemas.js";
import { checkErrorProse } from "./error-prose.js";
import { checkExamples } from "./examples.js";

export const BASELINE = "spec/baseline/fleet-v1.binpb";

export type Gate = (root: string) => Promise<string[]>;

function run(cmd: string, args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() }));
  });
}

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  // __pycache__: bytecode Python writes beside the generated Python classes when they are imported.
  return readdirSync(dir).filter((name) => name !== "__pycache__").flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** Lines naming every file that is missing, extra or different in `actual` compared with `expected`. */
export function diffTrees(expected: string, actual: string, label: string): string[] {
  const want = new Set(listFiles(expected).map((p) => relative(expected, p)));
  const have = new Set(listFiles(actual).map((p) => relative(actual, p)));
  const out: string[] = [];
  for (const f of [...want].sort()) {
    const name = posix.join(label, f.split("\\").join("/"));
    if (!have.has(f)) out.push(`${name} is missing (run npm run generate)`);
    else if (!readFileSync(join(expected, f)).equals(readFileSync(join(actual, f)))) out.push(`${name} differs from a fresh generation (run npm run generate; never edit generated files)`);
  }
  for (const f of [...have].sort()) if (!want.has(f)) out.push(`${posix.join(label, f.split("\\").join("/"))} is not produced by npm run generate (remove it)`);
  return out;
}

/** generated/ (and the Python binding's _proto) equals what generate writes now (generated into a temp dir; the tree is not touched). */
export function generatedFresh(parts: readonly GeneratedPart[] = GENERATED_PARTS): Gate {
  return async (root) => {
    const tmp = mkdtempSync(join(tmpdir(), "fleet-check-gen-"));
    try {
      await generate(tmp, parts);
      return parts.flatMap((p) => diffTrees(join(tmp, partDir(p)), join(root, partDir(p)), partDir(p)));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  };
}

export const bufLint: Gate = async (root) => {
  const r = await run(tool("buf"), ["lint"], root);
  return r.ok ? [] : lines(r.output).map((l) => `buf lint: ${l}`);
};

export const bufBreaking: Gate = async (root) => {
  if (!existsSync(join(root, BASELINE))) return [`buf breaking: ${BASELINE} is missing (npm run baseline writes it)`];
  const r = await run(tool("buf"), ["breaking", "--against", BASELINE], root);
  return r.ok ? [] : lines(r.output).map((l) => `buf breaking (against ${BASELINE}): ${l}`);
};

/** The whole repository compiles under tsconfig.json (strict, no unused locals): vitest and tsx only strip types. */
export const typecheck: Gate = async (root) => {
  const r = await run(tool("tsc"), ["--noEmit", "-p", join(root, "tsconfig.json")], root);
  return r.ok ? [] : lines(r.output).filter((l) => /error TS\d+/.test(l)).map((l) => `tsc: ${l}`);
};

export const asyncapiValid: Gate = async (root) => {
  const r = await runAsyncapi(["validate", ASYNCAPI_DOC, "--fail-severity", "error"], root);
  if (r.ok) return [];
  const errors = lines(r.output).filter((l) => /\berror\b/i.test(l) && !/^WARNING/.test(l));
  return (errors.length ? errors : [r.output.split("\n")[0]]).map((l) => `asyncapi validate ${ASYNCAPI_DOC}: ${l}`);
};

function* refsIn(node: unknown, path: string): Generator<[string, string]> {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* refsIn(v, `${path}/${i}`);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if ((k === "$ref" || k === "$id") && typeof v === "string") yield [`${path}/${k}`, v];
      else yield* refsIn(v, `${path}/${k}`);
    }
  }
}

export const schemasValid: Gate = async (root) => {
  const out: string[] = [];
  let schemas;
  try {
    schemas = loadSchemaFiles(root);
  } catch (e) {
    return [`spec/schemas: ${e instanceof Error ? e.message : String(e)}`];
  }
  for (const s of schemas) {
    for (const [at, ref] of refsIn(s.json, "")) {
      if (at.endsWith("$id")) out.push(`spec/schemas/${s.path}#${at}: no $id allowed (references stay relative and local)`);
      else if (/^[a-z][a-z0-9+.-]*:/i.test(ref) || ref.startsWith("/")) out.push(`spec/schemas/${s.path}#${at}: ${ref} is not a relative reference`);
    }
  }
  // Each file against the 2020-12 meta-schema first, so an error names its file.
  const meta = createAjv([]);
  for (const s of schemas) {
    if (!meta.validateSchema(s.json)) for (const e of meta.errors ?? []) out.push(`spec/schemas/${s.path}#${e.instancePath}: ${e.message} (JSON Schema 2020-12 meta-schema)`);
  }
  if (out.length) return out;
  let ajv;
  try {
    ajv = createAjv(schemas);
  } catch (e) {
    return [`spec/schemas: ${e instanceof Error ? e.message : String(e)}`];
  }
  for (const s of schemas) {
    for (const name of Object.keys(s.json.$defs ?? {})) {
      try {
        ajv.getSchema(`${s.path}#/$defs/${name}`);
      } catch (e) {
        out.push(`spec/schemas/${s.path}#/$defs/${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return out;
};

export const examplesValid: Gate = async (root) => checkExamples(root);

export const protoSchemaAgree: Gate = async (root) => compareProtoAndSchemas(loadProtoModel(join(root, "spec/proto")), loadSchemaFiles(root));

export const errorCodesAgree: Gate = async (root) => checkErrorProse(root);

export const gates: { name: string; gate: Gate }[] = [
  { name: "buf lint", gate: bufLint },
  { name: "buf breaking", gate: bufBreaking },
  { name: "JSON Schemas valid", gate: schemasValid },
  { name: "proto and JSON Schemas agree", gate: protoSchemaAgree },
  { name: "examples match their schemas", gate: examplesValid },
  { name: "error codes agree with errors.proto", gate: errorCodesAgree },
  { name: "AsyncAPI valid", gate: asyncapiValid },
  { name: "generated/ is fresh", gate: generatedFresh() },
  { name: "TypeScript compiles", gate: typecheck },
];

export { repoRoot };
