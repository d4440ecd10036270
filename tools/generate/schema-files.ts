// Loads the hand-maintained JSON Schemas under <root>/spec/schemas/fleet (every *.schema.json).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export interface SchemaFile {
  /** Path relative to spec/schemas, e.g. "fleet/v1/envelope.schema.json". */
  path: string;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".schema.json") ? [join(dir, e.name)] : []))
    .sort();
}

export function loadSchemaFiles(root: string): SchemaFile[] {
  const base = join(root, "spec/schemas");
  return walk(join(base, "fleet")).map((file) => ({ path: relative(base, file).split("\\").join("/"), json: JSON.parse(readFileSync(file, "utf8")) }));
}
