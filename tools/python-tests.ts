// `npm run test:python` (part of `npm test`): the Python binding's pytest suite under Debian's
// interpreter, named explicitly (an unrelated python3 may come first on PATH). pytest's exit 5
// (no tests collected) is a failure here: a suite that ran nothing proves nothing.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./generate/paths.js";

const python = process.env.FLEET_PYTHON ?? "/usr/bin/python3";
if (!existsSync(python)) {
  console.error(`test:python: ${python} is missing (apt-get install -y python3 python3-protobuf python3-cryptography python3-pytest)`);
  process.exit(1);
}
// FLEET_PYTHON_TESTS names another test directory (the wrapper's own test uses an empty one).
const tests = process.env.FLEET_PYTHON_TESTS ?? join(repoRoot, "bindings/python/tests");
const args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", tests, ...process.argv.slice(2).filter((a) => a !== "--")];
const r = spawnSync(python, args, { cwd: join(repoRoot, "bindings/python"), stdio: "inherit", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
if (r.status === 5) {
  console.error("test:python: pytest collected no tests");
  process.exit(1);
}
process.exit(r.status ?? 1);
