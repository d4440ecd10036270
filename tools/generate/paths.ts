// Where the repository and its tools are, independent of the caller's working directory.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** A tool installed in node_modules/.bin (buf, protoc-gen-es, asyncapi, ...). */
export function tool(name: string): string {
  return join(repoRoot, "node_modules/.bin", name);
}
