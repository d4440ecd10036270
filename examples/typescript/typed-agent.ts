// TypeScript with strict settings (see tsconfig.json here): two agents through a hub, typed
// end to end: a request whose answer is checked, a FleetError's code for a refused send, the
// wire types from "fleet-protocol/proto", identities in 0600 key files from "fleet-protocol/node",
// and the golden fixtures as data.
//
//   npm install fleet-protocol better-sqlite3 ws && npm install -D typescript @types/node
//   npx tsc -p . && node out/typed-agent.js
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applicationValue, connectHub, ErrorCode, errorCodeName, generateIdentity, isFleetError, type FleetConnection, type MessageMeta } from "fleet-protocol";
import { startHub, type RunningHub } from "fleet-protocol/hub";
import { FileKeystore } from "fleet-protocol/node";
import { MessageType, type Envelope } from "fleet-protocol/proto";
import manifest from "fleet-protocol/fixtures/manifest.json" with { type: "json" };

interface Task {
  task: number;
}

function isTask(value: unknown): value is Task {
  return typeof value === "object" && value !== null && typeof (value as { task?: unknown }).task === "number";
}

/** Answers every REQUEST carrying a Task with its square; refuses unsigned ones. */
function serveSquares(conn: FleetConnection): void {
  conn.onMessage((env: Envelope, meta: MessageMeta) => {
    if (env.type !== MessageType.REQUEST || !meta.verified) return;
    const value = applicationValue(env);
    if (!isTask(value)) return;
    void conn.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { square: value.task * value.task } });
  });
}

const home = mkdtempSync(join(tmpdir(), "fleet-typed-"));
let hub: RunningHub | undefined;
try {
  const keys = new FileKeystore(join(home, "keys"));
  keys.save(generateIdentity("worker"));
  hub = await startHub({ storeDir: join(home, "hub"), identity: generateIdentity("fleet-hub"), port: 0 });
  const worker = await connectHub({ port: hub.port, identity: keys.load("worker") });
  const client = await connectHub({ port: hub.port, identity: generateIdentity("client") });
  serveSquares(worker);

  const answer = await client.request({ to: "worker", json: { task: 12 } satisfies Task }, 5_000);
  const value = applicationValue(answer);
  console.log(`worker answered ${JSON.stringify(value)} in reply to ${answer.inReplyTo}`);
  if (JSON.stringify(value) !== JSON.stringify({ square: 144 })) throw new Error("wrong answer");

  await client.close();
  try {
    await client.send({ to: "worker", text: "after close" });
    throw new Error("a send after close must fail");
  } catch (e) {
    if (!isFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE)) throw e;
    console.log(`send after close refused: ${e.code} ${errorCodeName(e.code)}`);
  }
  const first = manifest.sets[0];
  console.log(`fixtures: ${manifest.sets.length} sets, first ${first?.name ?? "none"} (${first?.bytes ?? 0} bytes)`);
  await worker.close();
} finally {
  await hub?.close();
  rmSync(home, { recursive: true, force: true });
}
