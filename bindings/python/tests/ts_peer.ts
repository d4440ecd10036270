// A TypeScript agent for the Python binding's live tests: connects to a hub with the reference
// runtime and takes JSON-line commands on stdin, reporting JSON-line events on stdout.
// It answers every REQUEST with {"echo": <its json>}. Usage:
//   npx tsx bindings/python/tests/ts_peer.ts PORT AGENT [--keys DIR] [--groups a,b]
import { createInterface } from "node:readline";
import { create } from "@bufbuild/protobuf";
import { BottleLetterSchema, BottleSchema } from "../../../generated/proto/fleet/v1/bottle_pb.js";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../../generated/proto/fleet/v1/payload_pb.js";
import { parseRecipient } from "../../../runtime/client/address.js";
import { applicationValue, buildEnvelope } from "../../../runtime/client/draft.js";
import { connectHub } from "../../../runtime/client/hub-client.js";
import { systemClock } from "../../../runtime/clock.js";
import { generateIdentity, signEnvelope } from "../../../runtime/crypto/index.js";
import { FileKeystore } from "../../../runtime/node/keystore.js";
import { parseCondition } from "../../../runtime/protocol/bottle-condition.js";

const [port, agent, ...rest] = process.argv.slice(2);
const opt = (name: string) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const out = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify(event) + "\n");
const keysDir = opt("--keys");
const identity = keysDir ? new FileKeystore(keysDir).load(agent) : generateIdentity(agent);
const groups = opt("--groups")?.split(",").filter(Boolean);
const conn = await connectHub({ port: Number(port), identity, groups, receiptAttempts: 2, receiptTimeoutMs: 3_000 });
conn.onDrop((e) => out({ event: "drop", code: e.code, message: e.message }));
conn.onMessage((env, meta) => {
  out({ event: "message", id: env.id, sender: env.sender, type: MessageType[env.type], json: applicationValue(env) ?? null, verified: meta.verified, recipient: env.recipient?.target.case, in_reply_to: env.inReplyTo });
  if (env.type === MessageType.REQUEST) void conn.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { echo: applicationValue(env) } });
});
out({ event: "ready", agent, key_id: identity.keyId });

interface Command { cmd: string; tag?: string; to?: string; json?: unknown; ack?: boolean; when?: string }
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const c = JSON.parse(line) as Command;
  const done = (extra: Record<string, unknown>) => out({ event: "done", tag: c.tag, ...extra });
  try {
    switch (c.cmd) {
      case "send": {
        const r = await conn.send({ to: c.to!, json: c.json, requiresAck: c.ack ?? false });
        done({ receipt: r ? r.status : null });
        break;
      }
      case "request": {
        const answer = await conn.request({ to: c.to!, json: c.json });
        done({ json: applicationValue(answer), sender: answer.sender });
        break;
      }
      case "bottle": {
        const bottleId = globalThis.crypto.randomUUID();
        const letter = create(BottleLetterSchema, { bottleId, recipient: parseRecipient(c.to!), condition: parseCondition(c.when ?? "always"), payload: create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: JSON.stringify(c.json) } }), maxHops: 8 });
        const signed = signEnvelope(buildEnvelope({ to: c.to!, type: MessageType.EVENT, ttlSeconds: 3600, body: { case: "bottleLetter", value: letter } }, identity.agent, systemClock), identity);
        const r = await conn.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, sign: false, body: { case: "bottle", value: create(BottleSchema, { letter: signed }) } });
        done({ bottle_id: bottleId, receipt: r ? r.status : null });
        break;
      }
      case "forge": {
        // A correctly framed, signed packet whose signature no longer matches (one bit flipped).
        const packet = conn.signPacket({ to: c.to!, json: c.json });
        packet[packet.length - 1] ^= 0x01;
        conn.sendRaw(packet);
        done({});
        break;
      }
      case "replay": {
        // The same signed packet twice.
        const packet = conn.signPacket({ to: c.to!, json: c.json });
        conn.sendRaw(packet);
        conn.sendRaw(packet);
        done({});
        break;
      }
      case "close":
        await conn.close();
        done({});
        process.exit(0);
    }
  } catch (e) {
    done({ error: (e as { code?: number }).code ?? 0, message: (e as Error).message });
  }
}
