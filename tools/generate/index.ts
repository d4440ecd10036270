// `npm run generate`: regenerates everything under generated/ from spec/. Deterministic:
// running it twice changes no byte. `npm run generate -- proto types` limits the parts.
import { writeErrorsDoc } from "./errors-doc.js";
import { repoRoot } from "./paths.js";
import { generate, GENERATED_PARTS, type GeneratedPart } from "./pipeline.js";

const asked = process.argv.slice(2).filter((a) => a !== "--");
const unknown = asked.filter((a) => !GENERATED_PARTS.includes(a as GeneratedPart));
if (unknown.length) {
  console.error(`generate: unknown part(s) ${unknown.join(", ")}; parts are ${GENERATED_PARTS.join(", ")}`);
  process.exit(2);
}
try {
  await generate(undefined, asked.length ? (asked as GeneratedPart[]) : GENERATED_PARTS, (line) => console.log(`generate: ${line}`));
  writeErrorsDoc(repoRoot);
  console.log("generate: spec/errors.md (error-code table from errors.proto)");
} catch (e) {
  console.error(`generate: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
