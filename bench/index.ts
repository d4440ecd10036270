// `npm run bench`: runs every suite in bench/suites (or those named on the command
// line), each in its own process (bench/run-suite.ts), prints one table, and writes
// bench-results.json with every figure and ratio.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchRow } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
// Suite files are named for their suite, so a filtered run imports only what it runs.
const files = readdirSync(join(here, "suites"))
  .filter((f) => f.endsWith(".ts") && (only.length === 0 || only.includes(f.slice(0, -3))))
  .sort();

const rows: BenchRow[] = [];
const scratch = mkdtempSync(join(tmpdir(), "fleet-bench-"));
for (const file of files) {
  const name = file.slice(0, -3);
  const out = join(scratch, `${name}.json`);
  process.stderr.write(`bench: ${name}...\n`);
  const run = spawnSync(process.execPath, ["--import", "tsx", join(here, "run-suite.ts"), join(here, "suites", file), out], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    if (run.status !== 0) throw new Error(`exit status ${run.status ?? run.signal}`);
    rows.push(...(JSON.parse(readFileSync(out, "utf8")) as BenchRow[]));
  } catch (e) {
    process.stderr.write(`bench: ${name} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
rmSync(scratch, { recursive: true, force: true });

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
