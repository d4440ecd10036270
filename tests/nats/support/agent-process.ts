// One agent in its own process, for tests/nats/processes.test.ts: joins NATS (its registry
// replica syncs through it), sends signed messages to its peers once the registry lists
// them, and reports what happens as JSON lines on stdout. "quit" on stdin ends it.
import { createInterface } from "node:readline";
import { create } from "@bufbuild/protobuf";
import { RegistryQuerySchema } from "../../../generated/proto/fleet/v1/registry_pb.js";
import { applicationValue } from "../../../runtime/client/draft.js";
import { generateIdentity, toHex } from "../../../runtime/crypto/index.js";
import { connectNats } from "../../../runtime/nats/connection.js";

const [url, agent, peersText, countText] = process.argv.slice(2);
const peers = peersText.split(",").filter((p) => p && p !== agent);
const count = Number(countText);
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ agent, ...event })}\n`);

const identity = generateIdentity(agent);
// Membership (registry replica + presence) is on by default; its replica syncs through NATS.
const conn = await connectNats({ url, identity, registry: { syncIntervalMs: 250 }, onReject: (e) => say({ event: "rejected", code: e.code }) });
conn.onMessage((env, meta) => say({ event: "message", from: env.sender, value: applicationValue(env), verified: meta.verified }));
const replica = conn.membership!.replica;
let lastRoot = "";
const report = () => {
  const root = toHex(replica.digest().rootHash);
  if (root === lastRoot) return;
  lastRoot = root;
  say({ event: "registry", root, agents: replica.query(create(RegistryQuerySchema)).agents.map((a) => a.agentId).sort() });
};
replica.onChange(() => setImmediate(report));
report();

// Send once every peer is in the registry (learned through NATS, not from the test).
const sendAll = async () => {
  for (let i = 0; i < count; i++) for (const peer of peers) await conn.send({ to: peer, json: { n: i, from: agent }, requiresAck: true });
  say({ event: "sent" });
};
const wait = setInterval(() => {
  if (peers.every((p) => replica.agent(p))) {
    clearInterval(wait);
    sendAll().catch((e) => say({ event: "error", message: String(e) }));
  }
}, 50);

say({ event: "ready" });
createInterface({ input: process.stdin }).on("line", async (line) => {
  if (line.trim() !== "quit") return;
  clearInterval(wait);
  await conn.close();
  process.exit(0);
});
