// One Ajv (JSON Schema 2020-12, strict) loaded with every spec/schemas file under its path
// relative to spec/schemas, so the files' relative $refs resolve locally and nothing is fetched.
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { SchemaFile } from "./schema-files.js";

// ajv-formats is CommonJS; its default export arrives wrapped under tsx/Node ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

export function createAjv(schemas: SchemaFile[], options: { standalone?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    // `required` inside anyOf/dependentSchemas names properties declared beside it (oneof rules).
    strictRequired: false,
    allErrors: true,
    ...(options.standalone ? { code: { source: true, esm: true, lines: true } } : {}),
  });
  addFormats(ajv);
  for (const s of schemas) ajv.addSchema(s.json, s.path);
  return ajv;
}

/** "fleet/v1/envelope.schema.json#/$defs/Envelope" for every message $def (objects only). */
export function messageRefs(schemas: SchemaFile[]): Record<string, string> {
  const refs: Record<string, string> = {};
  for (const s of schemas) {
    for (const [name, def] of Object.entries((s.json.$defs ?? {}) as Record<string, { type?: string }>)) {
      if (def.type === "object") refs[name] = `${s.path}#/$defs/${name}`;
    }
  }
  return refs;
}
