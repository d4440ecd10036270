// A request/response service: "clock" offers the capability time@1 and answers REQUESTs;
// a client finds it by capability through the hub's registry, then asks it directly.
// request() resolves with the first envelope whose in_reply_to is the request's id.
//
//   npm install fleet-protocol better-sqlite3 ws
//   node service.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applicationValue, connectHub, generateIdentity } from "fleet-protocol";
import { startHub } from "fleet-protocol/hub";
import { MessageType } from "fleet-protocol/proto";

const home = mkdtempSync(join(tmpdir(), "fleet-service-"));
const hub = await startHub({ storeDir: home, identity: generateIdentity("fleet-hub"), port: 0 });
try {
  // The service: offers a capability, answers only requests whose signature it verified.
  const service = await connectHub({ port: hub.port, identity: generateIdentity("clock"), capabilities: ["time@1"] });
  service.onMessage((env, meta) => {
    if (env.type !== MessageType.REQUEST) return;
    const answer = meta.verified ? { now: new Date().toISOString(), asked: applicationValue(env) } : { refused: "unsigned request" };
    void service.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: answer });
  });

  const client = await connectHub({ port: hub.port, identity: generateIdentity("client") });
  const found = await client.queryRegistry({ capability: "time" });
  const names = found.agents.map((a) => a.agentId);
  console.log(`registry: capability time offered by ${names.join(", ")}`);
  if (!names.includes("clock")) throw new Error("service not found by capability");

  const reply = await client.request({ to: "clock", json: { zone: "UTC" } }, 5_000);
  console.log(`clock answered ${JSON.stringify(applicationValue(reply))}`);
  if (reply.sender !== "clock") throw new Error("answered by someone else");
  await client.close();
  await service.close();
} finally {
  await hub.close();
  rmSync(home, { recursive: true, force: true });
}
