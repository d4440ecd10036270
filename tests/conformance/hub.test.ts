// The conformance suite over the local hub: a fresh in-process hub on an ephemeral
// loopback port per test, agents connecting over real TCP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { startHub } from "../../runtime/hub/start.js";
import { conformanceSuite } from "./suite.js";

conformanceSuite({
  name: "hub",
  async start() {
    const dir = mkdtempSync(join(tmpdir(), "fleet-conf-"));
    const running = await startHub({ storeDir: join(dir, "hub"), identity: generateIdentity("fleet-hub"), port: 0 });
    return {
      connect: (identity) => connectHub({ port: running.port, identity }),
      async stop() {
        await running.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
