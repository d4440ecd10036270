// Every example under spec/schemas/examples names its schema ("schema": a relative path and
// fragment) and holds an "instance". The instance must validate against that schema, the
// codec must accept it as that message, and it must already be in canonical form (what
// toJson writes back), so examples, schemas and the codec cannot drift apart.
import { createRegistry, toJson, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { parseJsonMessage } from "../../runtime/codec/json.js";
import { validateMessage } from "../../runtime/codec/validate.js";
import { createAjv } from "../generate/ajv.js";
import { repoRoot } from "../generate/paths.js";
import { loadSchemaFiles } from "../generate/schema-files.js";

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".json") ? [join(dir, e.name)] : []))
    .sort();
}

/** Message descriptors of every generated fleet.v1 file, by full name. */
async function messageDescriptors(): Promise<(typeName: string) => DescMessage | undefined> {
  const dir = join(repoRoot, "generated/proto/fleet/v1");
  const files: DescFile[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith("_pb.ts")).sort()) {
    const mod = (await import(pathToFileURL(join(dir, name)).href)) as Record<string, unknown>;
    for (const [key, value] of Object.entries(mod)) if (key.startsWith("file_")) files.push(value as DescFile);
  }
  const registry = createRegistry(...files);
  return (typeName) => registry.getMessage(typeName);
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export async function checkExamples(root: string): Promise<string[]> {
  const base = join(root, "spec/schemas");
  const examples = walk(join(base, "examples"));
  if (examples.length === 0) return ["spec/schemas/examples: no examples"];
  const ajv = createAjv(loadSchemaFiles(root));
  const messages = await messageDescriptors();
  const out: string[] = [];
  for (const file of examples) {
    const name = `spec/schemas/${relative(base, file).split("\\").join("/")}`;
    let doc: { schema?: unknown; instance?: unknown };
    try {
      doc = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      out.push(`${name}: not JSON (${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    if (typeof doc.schema !== "string" || !doc.schema.includes("#/$defs/") || doc.instance === undefined) {
      out.push(`${name}: needs "schema" ("<relative file>#/$defs/<Name>") and "instance"`);
      continue;
    }
    const [schemaFile, fragment] = doc.schema.split("#");
    const schemaPath = posix.normalize(posix.join(posix.dirname(relative(base, file).split("\\").join("/")), schemaFile));
    const validate = ajv.getSchema(`${schemaPath}#${fragment}`);
    if (!validate) {
      out.push(`${name}: schema ${doc.schema} not found`);
      continue;
    }
    if (!validate(doc.instance)) {
      for (const e of validate.errors ?? []) out.push(`${name}: instance${e.instancePath} ${e.message} (${doc.schema})`);
      continue;
    }
    const desc = messages(`fleet.v1.${fragment.split("/").pop()}`);
    if (!desc) {
      out.push(`${name}: no proto message for ${doc.schema}`);
      continue;
    }
    try {
      const msg = parseJsonMessage(desc, doc.instance);
      validateMessage(desc, msg);
      if (!sameJson(toJson(desc, msg), doc.instance)) out.push(`${name}: not in canonical JSON form (expected ${JSON.stringify(toJson(desc, msg))})`);
    } catch (e) {
      const err = e as { code?: number; pointer?: string; message?: string };
      out.push(`${name}: the codec rejects it: ${err.code ?? ""} at "${err.pointer ?? ""}": ${err.message}`);
    }
  }
  return out;
}
