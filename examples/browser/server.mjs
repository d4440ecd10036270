// The Node side of the browser example: a hub with a WebSocket listener for pages, and a Node
// agent ("node-agent", over TCP) that answers every verified message with a signed one.
//
//   node server.mjs            # prints {"ws":"ws://127.0.0.1:PORT"}; Ctrl-C (or stdin closing) stops it
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applicationValue, connectHub, generateIdentity } from "fleet-protocol";
import { startHub } from "fleet-protocol/hub";

const home = mkdtempSync(join(tmpdir(), "fleet-browser-example-"));
// wsPort 0: any free port; pages from http://127.0.0.1:* and http://localhost:* are allowed.
const hub = await startHub({ storeDir: home, identity: generateIdentity("fleet-hub"), port: 0, wsPort: 0 });
const agent = await connectHub({ port: hub.port, identity: generateIdentity("node-agent") });
agent.onMessage((env, meta) => {
  console.log(JSON.stringify({ received: applicationValue(env), from: env.sender, verified: meta.verified }));
  if (meta.verified) void agent.send({ to: env.sender, inReplyTo: env.id, json: { echo: applicationValue(env) } });
});
console.log(JSON.stringify({ ws: hub.wsUrl }));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await agent.close();
  await hub.close();
  rmSync(home, { recursive: true, force: true });
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.resume();
