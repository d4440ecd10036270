// A hub from the package on a free loopback port, for agents in another runtime (Bun, Deno):
// prints {"port":N} and runs until stdin ends.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity } from "fleet-protocol";
import { startHub } from "fleet-protocol/hub";

const home = mkdtempSync(join(tmpdir(), "fleet-package-hub-"));
const hub = await startHub({ storeDir: home, identity: generateIdentity("fleet-hub"), port: 0 });
console.log(JSON.stringify({ port: hub.port }));
const stop = async () => {
  await hub.close();
  rmSync(home, { recursive: true, force: true });
  process.exit(0);
};
process.stdin.on("end", () => void stop());
process.on("SIGTERM", () => void stop());
process.stdin.resume();
