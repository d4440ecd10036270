// Agents on a real nats-server: signed end to end, durable inboxes, receipts, and every
// refusal typed (bad signature, wrong inbox, impersonation).
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { DiscoveryBeaconSchema } from "../../generated/proto/fleet/v1/discovery_pb.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, signEnvelope } from "../../runtime/crypto/index.js";
import { ErrorCode, type FleetError } from "../../runtime/errors.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { toWire } from "../../runtime/nats/wire.js";
import { hasNatsServer, natsSkipMessage } from "../support/nats-server.js";
import { natsAgents } from "./support/agents.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

function next<T>(register: (cb: (v: T) => void) => void, ms = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timed out")), ms);
    register((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

describe.skipIf(!hasNatsServer)("NATS FleetConnection", () => {
  const join = natsAgents();

  it("delivers a signed direct message, ACCEPTED when stored and PROCESSED from the recipient", async () => {
    const alice = await join("alice");
    const bob = await join("bob");
    const got = next<Envelope>((cb) => bob.onMessage((env) => cb(env)));
    const processed = next<{ status: ReceiptStatus; from: string }>((cb) => alice.onReceipt((r, from) => cb({ status: r.status, from })));
    const accepted = await alice.send({ to: "bob", json: { hello: "bob" }, requiresAck: true });
    expect(accepted?.status).toBe(ReceiptStatus.ACCEPTED);
    const env = await got;
    expect(env.sender).toBe("alice");
    expect(applicationValue(env)).toEqual({ hello: "bob" });
    expect(await processed).toEqual({ status: ReceiptStatus.PROCESSED, from: "bob" });
    await expect.poll(async () => (await alice.delivery("bob")).pending).toBe(0);
  });

  it("keeps messages for an agent that is offline and delivers them when it connects", async () => {
    const sender = await join("early-bird");
    for (let i = 0; i < 3; i++) await sender.send({ to: "late-riser", text: `m${i}` });
    const late = await join("late-riser");
    const seen: unknown[] = [];
    late.onMessage((env) => seen.push(applicationValue(env)));
    await expect.poll(() => seen, { timeout: 5_000 }).toEqual(["m0", "m1", "m2"]);
  });

  it("carries the JSON form (envelope+json) and verifies it the same way", async () => {
    const a = await join("json-a", { json: true });
    const b = await join("json-b");
    const got = next<Envelope>((cb) => b.onMessage((env) => cb(env)));
    await a.send({ to: "json-b", json: [1, 2, 3] });
    expect(applicationValue(await got)).toEqual([1, 2, 3]);
  });

  it("answers requests", async () => {
    const client = await join("asker");
    const service = await join("answerer");
    service.onMessage((env) => {
      if (env.type === MessageType.REQUEST) void service.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { echo: applicationValue(env) } });
    });
    const reply = await client.request({ to: "answerer", json: "ping" }, 5_000);
    expect(applicationValue(reply)).toEqual({ echo: "ping" });
  });

  it("fans out broadcast and group messages", async () => {
    const a = await join("fan-a", { groups: ["ops.eu"] });
    const b = await join("fan-b", { groups: ["ops.eu"] });
    const gotB = next<Envelope>((cb) => b.onMessage((env) => cb(env)));
    await a.send({ to: "group:ops.eu", text: "to the group" });
    expect(applicationValue(await gotB)).toBe("to the group");
    const again = next<Envelope>((cb) => b.onMessage((env) => cb(env)));
    await a.send({ to: "fleet:broadcast", text: "everyone" });
    expect(applicationValue(await again)).toBe("everyone");
  });

  it("routes capability-addressed messages and discovery beacons to their subjects", async () => {
    const asker = await join("cap-asker");
    const worker = await join("cap-worker", { capabilities: ["compute"] });
    const idle = await join("cap-idle");
    const atIdle: Envelope[] = [];
    idle.onMessage((env) => atIdle.push(env));
    const got = next<Envelope>((cb) => worker.onMessage((env) => cb(env)));
    await asker.send({ to: "capability:compute", json: "job" });
    expect(applicationValue(await got)).toBe("job");
    const beacon = next<Envelope>((cb) => worker.listen(subjects.discovery(), (env) => cb(env)));
    await worker.carrier.flush(); // the subscription is registered with the server
    await asker.send({ to: "fleet:discovery", type: MessageType.STATUS, body: { case: "discoveryBeacon", value: create(DiscoveryBeaconSchema, { agentId: "cap-asker", keyId: asker.identity.keyId, publicKey: asker.identity.publicKey, issuedAt: timestampNow(), versions: ["3.0"] }) } });
    expect((await beacon).sender).toBe("cap-asker");
    expect(atIdle).toEqual([]);
  });

  it("refuses tampered bytes (601), envelopes re-published to another inbox (603) and impersonation (607)", async () => {
    const codes: number[] = [];
    const victim = await join("victim", { onReject: (e: FleetError, subject: string) => subject === subjects.agentInbox("victim") && codes.push(e.code) });
    const delivered: Envelope[] = [];
    victim.onMessage((env) => delivered.push(env));
    const mallory = generateIdentity("mallory");
    const raw = (await join("raw-publisher")).carrier;

    // 1. A flipped byte in a signed envelope.
    const env1 = buildEnvelope({ to: "victim", text: "hi" }, "mallory", systemClock);
    const s1 = signEnvelope(env1, mallory);
    s1.payload[s1.payload.length - 1] ^= 1;
    const w1 = toWire(create(PacketSchema, { kind: { case: "signed", value: s1 } }), { publicKey: mallory.publicKey });
    raw.nc.publish(subjects.agentInbox("victim"), w1.data, { headers: w1.headers });

    // 2. A genuine envelope for someone else, copied into the victim's inbox.
    const s2 = signEnvelope(buildEnvelope({ to: "someone-else", text: "not yours" }, "mallory", systemClock), mallory);
    const w2 = toWire(create(PacketSchema, { kind: { case: "signed", value: s2 } }), { publicKey: mallory.publicKey });
    raw.nc.publish(subjects.agentInbox("victim"), w2.data, { headers: w2.headers });

    // 3. Mallory's key claiming to be alice-2, whose key the victim pinned first.
    const alice2 = await join("alice-2");
    const pinned = next<Envelope>((cb) => victim.onMessage((env) => cb(env)));
    await alice2.send({ to: "victim", text: "real" });
    await pinned;
    const s3 = signEnvelope(buildEnvelope({ to: "victim", text: "fake" }, "alice-2", systemClock), mallory);
    const w3 = toWire(create(PacketSchema, { kind: { case: "signed", value: s3 } }), { publicKey: mallory.publicKey });
    raw.nc.publish(subjects.agentInbox("victim"), w3.data, { headers: w3.headers });

    await expect.poll(() => codes, { timeout: 5_000 }).toEqual([ErrorCode.SECURITY_SIGNATURE_INVALID, ErrorCode.SECURITY_UNAUTHORIZED, ErrorCode.SECURITY_KEY_MISMATCH]);
    expect(delivered.map((e) => applicationValue(e))).toEqual(["real"]);
  });

  it("refuses senders it has not pinned under trust: pinned (601)", async () => {
    const codes: number[] = [];
    // Only its inbox matters here (strangers' presence and registry traffic is refused too).
    await join("strict", { trust: "pinned", onReject: (e: FleetError, subject: string) => subject === subjects.agentInbox("strict") && codes.push(e.code) });
    const stranger = await join("stranger");
    await stranger.send({ to: "strict", text: "hello?" });
    await expect.poll(() => codes, { timeout: 5_000 }).toEqual([ErrorCode.SECURITY_SIGNATURE_INVALID]);
  });
});
