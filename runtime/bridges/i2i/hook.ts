// The pre-receive hook the I2I bridge installs in its repository (plain Node ESM, run by git
// receive-pack). It refuses ref deletion and non-fast-forward updates (no history rewriting,
// whatever the branch), and v0.1 commits whose I2I sender is not the pushing agent
// (I2I_BRIDGE_AGENT, set by the git daemon the bridge runs for that agent). It records who
// pushed each new commit, so v1/v2 commits (no sender in the subject) get one.

export function preReceiveHook(nodePath: string): string {
  return `#!${nodePath}
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
const agent = process.env.I2I_BRIDGE_AGENT || "";
const zero = /^0+$/;
const git = (...a) => execFileSync("git", a, { encoding: "utf8", maxBuffer: 64 << 20 });
const input = readFileSync(0, "utf8").trim().split("\\n").filter(Boolean);
const V01 = /^\\[I2I:([^\\-\\]>:]+)->/;
const records = [];
const fail = (why) => { process.stderr.write("fleet-i2i-bridge: " + why + "\\n"); process.exit(1); };
if (!agent) fail("pushes are accepted only through an agent's bridge URL");
for (const line of input) {
  const [oldRev, newRev, ref] = line.split(" ");
  if (zero.test(newRev)) fail("deleting " + ref + " would lose delivered messages");
  if (!zero.test(oldRev)) {
    try { git("merge-base", "--is-ancestor", oldRev, newRev); } catch { fail("non-fast-forward update of " + ref + " refused (history is never rewritten)"); }
  }
  const revs = git("rev-list", zero.test(oldRev) ? newRev : oldRev + ".." + newRev, ...(zero.test(oldRev) ? ["--not", "--all"] : [])).trim().split("\\n").filter(Boolean);
  if (revs.length > 10000) fail("more than 10000 new commits in one push");
  for (const rev of revs) {
    const subject = git("log", "-1", "--format=%s", rev).trim();
    const m = V01.exec(subject);
    if (m && m[1] !== agent) fail("commit " + rev.slice(0, 12) + " claims I2I sender " + m[1] + " but " + agent + " pushed it");
    records.push(rev + " " + agent);
  }
}
mkdirSync("fleet-bridge", { recursive: true });
if (records.length) appendFileSync("fleet-bridge/pushers", records.join("\\n") + "\\n");
`;
}
