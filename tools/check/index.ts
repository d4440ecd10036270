// `npm run check`: the spec's gates. Prints one line per failure and exits 1 if any failed.
// `npm run check -- --quick` skips the slow freshness check of generated/docs.
import { GENERATED_PARTS } from "../generate/pipeline.js";
import { gates, generatedFresh, repoRoot } from "./gates.js";

const quick = process.argv.includes("--quick");
let failed = 0;
for (const { name, gate } of gates) {
  const started = Date.now();
  const run = quick && name === "generated/ is fresh" ? generatedFresh(GENERATED_PARTS.filter((p) => p !== "docs")) : gate;
  let failures: string[];
  try {
    failures = await run(repoRoot);
  } catch (e) {
    failures = [`crashed: ${e instanceof Error ? e.message : String(e)}`];
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (failures.length === 0) {
    console.log(`check: ok    ${name} (${secs}s)`);
  } else {
    failed++;
    console.log(`check: FAIL  ${name} (${secs}s)`);
    for (const line of failures) console.log(`  ${line}`);
  }
}
if (failed) {
  console.log(`check: ${failed} gate(s) failed`);
  process.exit(1);
}
console.log("check: all gates passed");
