// The conformance suite over the local hub's WebSocket listener: the same frames, one per
// binary message (spec/frame.md), from Node agents using the `ws` package.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { startHub } from "../../runtime/hub/start.js";
import { connectWebSocket, type WebSocketConstructor } from "../../runtime/transport/websocket.js";
import { conformanceSuite } from "./suite.js";

conformanceSuite({
  name: "hub over WebSocket",
  async start() {
    const dir = mkdtempSync(join(tmpdir(), "fleet-conf-ws-"));
    const running = await startHub({ storeDir: join(dir, "hub"), identity: generateIdentity("fleet-hub"), port: 0, wsPort: 0 });
    return {
      connect: async (identity) => connectHub({ port: 0, identity, conn: await connectWebSocket(running.wsUrl!, { WebSocket: WebSocket as unknown as WebSocketConstructor }) }),
      async stop() {
        await running.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
