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
  try {
    await import("../dist/runtime/cli/main.js");
  } catch (e) {
    // The CLI's hub and stores need optional peers a core install leaves out: one line, not a stack.
    const missing = e?.code === "ERR_MODULE_NOT_FOUND" && /Cannot find package '(better-sqlite3|ws)'/.exec(String(e.message));
    if (!missing) throw e;
    process.stderr.write(`fleet: the fleet command needs the optional peer dependencies better-sqlite3 and ws (${missing[1]} is missing): npm install better-sqlite3 ws\n`);
    process.exit(1);
  }
}
