// A browser agent: imports the package as any bundler resolves it (the core has no Node
// built-in in its graph; TCP resolves to a stand-in outside Node), makes an Ed25519 identity
// with WebCrypto, connects to the hub over ws:// and sends a signed message that asks for a
// receipt; the Node agent (server.mjs) answers with a signed message, verified here.
//
// Open index.html?hub=ws://127.0.0.1:7421&to=node-agent (the hub's --ws-port).
import { applicationValue, connectHub, generateIdentity } from "fleet-protocol";

const log = (line) => (document.getElementById("log").textContent += `${line}\n`);

async function main() {
  const params = new URL(location.href).searchParams;
  const url = params.get("hub") ?? "ws://127.0.0.1:7421";
  const to = params.get("to") ?? "node-agent";
  const conn = await connectHub({ url, port: 0, identity: generateIdentity(`page-${crypto.randomUUID().slice(0, 8)}`) });
  log(`connected to ${url} as ${conn.agent}`);
  const answered = new Promise((resolve) => conn.onMessage((env, meta) => resolve({ from: env.sender, value: applicationValue(env), verified: meta.verified })));
  const receipt = await conn.send({ to, json: { hello: "from the browser" }, requiresAck: true });
  log(`receipt status ${receipt?.status} for ${receipt?.messageId}`);
  const answer = await answered;
  log(`${answer.from} answered ${JSON.stringify(answer.value)} (signature verified: ${answer.verified})`);
  await conn.close();
  return { receipt: receipt?.status ?? 0, ...answer };
}

// The result, for people (the log above) and for tests (window.fleetResult).
window.fleetResult = main().catch((e) => {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  return { error: String(e?.code ?? e) };
});
