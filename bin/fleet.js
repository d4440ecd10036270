#!/usr/bin/env node
// The `fleet` command. The published package ships only the compiled CLI (dist/), which runs
// as plain JavaScript: no TypeScript loader at run time. In a source checkout (runtime/ sits
// beside bin/; it is not in the package's "files") the TypeScript sources run through tsx
// instead, so the command always matches the code being edited, built or not.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../runtime/cli/main.ts", import.meta.url));
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
  await import(new URL("../runtime/cli/main.ts", import.meta.url).href);
} else {
  await import("../dist/runtime/cli/main.js");
}
