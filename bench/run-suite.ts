// Runs one bench suite (the file named by argv[2]) and writes its rows, ratios included, as
// JSON to argv[3]. bench/index.ts runs each suite this way in a fresh process, so no suite
// measures inside the heap, JIT state or garbage another one left behind.
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { BenchRow, BenchSuite } from "./harness.js";

const [file, out] = process.argv.slice(2);
const mod = (await import(pathToFileURL(file).href)) as { suite: BenchSuite };
const rows: BenchRow[] = await mod.suite.run();
for (const row of rows) {
  const anchor = row.anchor ? rows.find((r) => r.name === row.anchor) : undefined;
  if (anchor) row.ratio = row.rate / anchor.rate;
}
writeFileSync(out, JSON.stringify(rows));
