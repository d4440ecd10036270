// The same protocol over NATS / JetStream instead of a hub: two agents, a signed message kept
// by JetStream until it is acknowledged, verified on arrival.
//
//   npm install fleet-protocol nats    # nats: the optional peer dependency "fleet-protocol/nats" needs
//   nats-server -js &                  # JetStream on
//   NATS_URL=nats://127.0.0.1:4222 node hello.mjs
import { applicationValue, generateIdentity } from "fleet-protocol";
import { connectNats } from "fleet-protocol/nats";

const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const run = crypto.randomUUID().slice(0, 8);
const alpha = await connectNats({ url, identity: generateIdentity(`alpha-${run}`) });
const beta = await connectNats({ url, identity: generateIdentity(`beta-${run}`) });
try {
  const received = new Promise((resolve) => beta.onMessage((env, meta) => resolve({ env, meta })));
  // requiresAck: resolves once JetStream has stored it (retried under the same id meanwhile).
  const receipt = await alpha.send({ to: beta.agent, json: { over: "nats" }, requiresAck: true });
  const { env, meta } = await received;
  console.log(`receipt for ${receipt?.messageId}; ${beta.agent} got ${JSON.stringify(applicationValue(env))} from ${env.sender}, verified=${meta.verified}`);
  if (!meta.verified || env.sender !== alpha.agent) throw new Error("not delivered as sent");
} finally {
  await alpha.close();
  await beta.close();
}
