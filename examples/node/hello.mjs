// Plain Node ESM, from the installed package only: starts a hub, connects two agents, sends a
// signed message that asks for a receipt, and checks that it arrives with its signature
// verified end to end.
//
//   npm install fleet-protocol better-sqlite3 ws   # better-sqlite3 and ws: the hub
//   node hello.mjs
//
// FLEET_HUB_PORT=7420 node hello.mjs uses a hub that already runs on that port instead. The
// agents run unchanged under Bun and Deno (tests/package does so), but the hub's store does
// not: better-sqlite3 is a Node addon that neither loads, so there the hub runs in Node.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applicationValue, connectHub, generateIdentity } from "fleet-protocol";
import { ReceiptStatus } from "fleet-protocol/proto";

async function localHub() {
  const { startHub } = await import("fleet-protocol/hub");
  const home = mkdtempSync(join(tmpdir(), "fleet-hello-"));
  // Loopback, any free port; the hub keeps its pins and offline inboxes in home/hub.db.
  const hub = await startHub({ storeDir: home, identity: generateIdentity("fleet-hub"), port: 0 });
  return {
    port: hub.port,
    async close() {
      await hub.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

const given = Number(process.env.FLEET_HUB_PORT ?? 0);
const hub = given > 0 ? { port: given, close: async () => {} } : await localHub();
try {
  // Unique names, so runs against one long-lived hub never meet each other's pinned keys.
  const run = crypto.randomUUID().slice(0, 8);
  const alpha = await connectHub({ port: hub.port, identity: generateIdentity(`alpha-${run}`) });
  const beta = await connectHub({ port: hub.port, identity: generateIdentity(`beta-${run}`) });

  const received = new Promise((resolve) => beta.onMessage((env, meta) => resolve({ env, meta })));
  // Signed with alpha's Ed25519 key; resolves with the hub's receipt (ACCEPTED: stored durably).
  const receipt = await alpha.send({ to: beta.agent, json: { task: 42 }, requiresAck: true });
  const { env, meta } = await received;

  console.log(`receipt ${ReceiptStatus[receipt?.status ?? 0]} for ${receipt?.messageId}`);
  console.log(`${beta.agent} got ${JSON.stringify(applicationValue(env))} from ${env.sender}, verified=${meta.verified}`);
  const ok = meta.verified && env.sender === alpha.agent && receipt?.status === ReceiptStatus.ACCEPTED && receipt.messageId === env.id;
  await alpha.close();
  await beta.close();
  if (!ok) throw new Error("not delivered as sent");
} finally {
  await hub.close();
}
