// `fleet keys rotate`: replaces an agent's key at the hub it uses, or on NATS (--nats URL,
// $FLEET_NATS ...) in the stream FLEET_KEYS that every agent applies. A binding moves only on
// a KeyRotation signed by the current key and proven by the new one (spec/signing.md). The new key is written (0600) to keys/pending/ before anything is
// sent, so an accepted rotation can never leave the agent without its new key; the old key
// is kept (0600) in keys/retired/<unix ms>/ (a directory name the output redaction leaves
// readable, unlike a 32-character key id); --json names it relative to keys/. Neither is ever printed.
import { join, relative } from "node:path";
import { createKeyRotation, generateIdentity } from "../../crypto/index.js";
import { FileKeystore } from "../../node/keystore.js";
import { usageError } from "../cli-error.js";
import { type Command, str } from "../command.js";
import { NatsFleetConnection } from "../../nats/connection.js";
import { connectFor } from "../connect.js";
import { keystore, loadIdentity } from "../identities.js";
import { filePinStore } from "../peers.js";

const rotate: Command = {
  name: "rotate",
  summary: "new key for an agent, announced to the hub (or on NATS) with a rotation signed by the old key",
  usage: "fleet keys rotate --agent-id NAME [--hub HOST:PORT | --nats URL]",
  options: { "agent-id": { type: "string" } },
  async run(ctx) {
    const agent = str(ctx, "agent-id") ?? str(ctx, "agent");
    if (!agent) throw usageError("--agent-id NAME is required (see fleet keys rotate --help)");
    const oldId = loadIdentity(ctx.home, agent);
    const newId = generateIdentity(agent);
    const keys = keystore(ctx.home);
    const pending = new FileKeystore(join(keys.dir, "pending"));
    const retiredDir = join("retired", String(Date.now()));
    const retired = new FileKeystore(join(keys.dir, retiredDir));
    retired.save(oldId);
    pending.save(newId);
    try {
      const conn = await connectFor(ctx, { agent });
      try {
        // On NATS: stored in FLEET_KEYS (acked) and our pin moved (runtime/nats/rotation.ts).
        if (conn instanceof NatsFleetConnection) await conn.rotateKey(newId);
        else await conn.send({ to: "fleet:hub", requiresAck: true, body: { case: "keyRotation", value: createKeyRotation(oldId, newId, Date.now()) } });
      } finally {
        await conn.close().catch(() => {});
      }
    } catch (e) {
      pending.remove(agent); // not accepted: the old key stays the agent's key
      throw e;
    }
    keys.save(newId);
    pending.remove(agent);
    // This home's own pin of the agent (agents of one home read each other's messages) follows.
    const pins = filePinStore(ctx.home);
    if ([...pins.load()].some((p) => p.agent === agent && p.keyId === oldId.keyId)) pins.save({ agent, keyId: newId.keyId, publicKey: newId.publicKey, pinnedAt: Date.now() });
    ctx.out.line(`rotated ${agent}: ${oldId.keyId} -> ${newId.keyId} (old key kept in keys/${retiredDir})`);
    ctx.out.result({ ok: true, agent, old_key_id: oldId.keyId, new_key_id: newId.keyId, retired: relative(keys.dir, retired.pathFor(agent)) });
  },
};

export const keys: Command = {
  name: "keys",
  summary: "manage agent keys (rotate)",
  usage: "fleet keys rotate --agent-id NAME",
  sub: [rotate],
};
