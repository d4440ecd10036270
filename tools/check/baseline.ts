// `npm run baseline`: deliberately records the current proto as the released baseline that
// `buf breaking` (in npm run check) compares against. Run it when a version is released.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { repoRoot, tool } from "../generate/paths.js";
import { BASELINE } from "./gates.js";

mkdirSync(dirname(join(repoRoot, BASELINE)), { recursive: true });
execFileSync(tool("buf"), ["build", "--exclude-source-info", "-o", BASELINE], { cwd: repoRoot, stdio: "inherit" });
console.log(`baseline: wrote ${BASELINE}`);
