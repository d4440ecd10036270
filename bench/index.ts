// `npm run bench`: runs every suite in bench/suites (or those named on the command
// line), prints one table, and writes bench-results.json with every figure and ratio.
import { readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchRow, BenchSuite } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
// Suite files are named for their suite, so a filtered run imports only what it runs.
const files = readdirSync(join(here, "suites"))
  .filter((f) => f.endsWith(".ts") && (only.length === 0 || only.includes(f.slice(0, -3))))
  .sort();

const rows: BenchRow[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, "suites", file)).href)) as { suite: BenchSuite };
  process.stderr.write(`bench: ${mod.suite.name}...\n`);
  try {
    const got = await mod.suite.run();
    for (const row of got) {
      const anchor = row.anchor ? got.find((r) => r.name === row.anchor) : undefined;
      if (anchor) row.ratio = row.rate / anchor.rate;
      rows.push(row);
    }
  } catch (e) {
    process.stderr.write(`bench: ${mod.suite.name} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));
const goalText = (r: BenchRow) => {
  if (!r.goal) return "";
  const v = r.goal.on === "ratio" ? r.ratio : r.rate;
  if (v === undefined) return "";
  const ok = (r.goal.min === undefined || v >= r.goal.min) && (r.goal.max === undefined || v <= r.goal.max);
  const want = [r.goal.min !== undefined ? `>= ${r.goal.min}` : "", r.goal.max !== undefined ? `<= ${r.goal.max}` : ""].filter(Boolean).join(" ");
  return `${ok ? "ok" : "MISSED"} (${r.goal.on} ${want})`;
};
const table = rows.map((r) => [r.suite, r.name, `${fmt(r.rate)} ${r.unit}`, r.anchor ?? "", r.ratio === undefined ? "" : r.ratio.toFixed(3), goalText(r), r.extra ? JSON.stringify(r.extra) : ""]);
const header = ["suite", "measure", "rate", "anchor", "ratio", "goal", "extra"];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const t of table) console.log(line(t));
writeFileSync("bench-results.json", JSON.stringify({ node: process.version, date: new Date().toISOString(), rows }, null, 2) + "\n");
