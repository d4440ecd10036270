// Key rotation on a real nats-server: the KeyRotation is stored in FLEET_KEYS, the rotating
// agent signs with its new key once the PubAck arrives, and every agent applies it, live or
// when it next connects; the old key is refused afterwards and forged rotations change nothing.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageType, type KeyRotation } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { createKeyRotation, generateIdentity, PinnedKeys, signEnvelope, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, type FleetError } from "../../runtime/errors.js";
import type { NatsFleetConnection } from "../../runtime/nats/connection.js";
import { STREAMS, subjects } from "../../runtime/nats/subjects.js";
import { hasNatsServer, natsSkipMessage } from "../support/nats-server.js";
import { natsAgents } from "./support/agents.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

/** Values of application messages conn receives, in order. */
function inbox(conn: NatsFleetConnection): unknown[] {
  const seen: unknown[] = [];
  conn.onMessage((env) => seen.push(applicationValue(env)));
  return seen;
}

/** Stores a hand-made rotation (forgeries) on subject, signed by signer, as rotateKey would. */
async function storeForged(via: NatsFleetConnection, subject: string, signer: Identity, rotation: KeyRotation): Promise<void> {
  const env = buildEnvelope({ to: "fleet:hub", type: MessageType.COMMAND, body: { case: "keyRotation", value: rotation } }, signer.agent, systemClock);
  const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, signer) } });
  await via.carrier.publishDurable(subject, packet, env.id, { publicKey: signer.publicKey });
}

/** Publishes a message to agent's inbox signed by a key the sender no longer holds. */
async function sendSignedBy(via: NatsFleetConnection, signer: Identity, to: string, text: string): Promise<void> {
  const env = buildEnvelope({ to, text }, signer.agent, systemClock);
  const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, signer) } });
  await via.carrier.publishDurable(subjects.agentInbox(to), packet, env.id, { publicKey: signer.publicKey });
}

const codes = (rejects: { error: FleetError; subject: string }[]) => rejects.map((r) => [r.error.code, r.subject]);

describe.skipIf(!hasNatsServer)("NATS key rotation", () => {
  const join = natsAgents();

  it("rotates and keeps talking both ways, signed and in sessions (sessions with the old key are re-established)", async () => {
    const oldAlice = generateIdentity("rot-alice");
    const alice = await join("rot-alice", { identity: oldAlice });
    const bob = await join("rot-bob");
    const toAlice = inbox(alice);
    const toBob = inbox(bob);
    await alice.send({ to: "rot-bob", text: "before" });
    const before = await alice.openSession("rot-bob");
    await alice.send({ to: "rot-bob", text: "session before", sign: false });
    await expect.poll(() => toBob).toEqual(["before", "session before"]);

    const next = generateIdentity("rot-alice");
    const receipt = await alice.rotateKey(next);
    expect(receipt.status).toBe(ReceiptStatus.ACCEPTED);
    expect(receipt.detail).toMatch(/^stored in FLEET_KEYS at \d+$/);
    expect(alice.identity.keyId).toBe(next.keyId);
    expect(alice.keys.keyIdOf("rot-alice")).toBe(next.keyId);
    await expect.poll(() => bob.keys.keyIdOf("rot-alice")).toBe(next.keyId);

    // Bob's session with the old key is gone: asking for one handshakes anew.
    const bobSide = await bob.openSession("rot-alice");
    expect(bobSide.sessionId).not.toBe(before.sessionId);
    expect((await alice.openSession("rot-bob")).sessionId).not.toBe(before.sessionId);

    const processed = new Promise<ReceiptStatus>((resolve) => alice.onReceipt((r) => resolve(r.status)));
    await alice.send({ to: "rot-bob", text: "signed by the new key", requiresAck: true });
    expect(await processed).toBe(ReceiptStatus.PROCESSED); // bob's receipt, verified by alice
    await alice.send({ to: "rot-bob", text: "session after", sign: false });
    await bob.send({ to: "rot-alice", text: "signed to alice" });
    await bob.send({ to: "rot-alice", text: "session to alice", sign: false });
    await expect.poll(() => toBob).toEqual(["before", "session before", "signed by the new key", "session after"]);
    // The durable inbox and the live session subject are not ordered with each other.
    await expect.poll(() => [...toAlice].sort()).toEqual(["session to alice", "signed to alice"]);
  });

  it("refuses the old key's signatures afterwards: 607 with trust tofu, 601 with trust pinned", async () => {
    const oldCarol = generateIdentity("rot-carol");
    const carol = await join("rot-carol", { identity: oldCarol });
    const tofuRejects: { error: FleetError; subject: string }[] = [];
    const dave = await join("rot-dave", { onReject: (error, subject) => tofuRejects.push({ error, subject }) });
    const pinnedRejects: { error: FleetError; subject: string }[] = [];
    const erinKeys = new PinnedKeys();
    erinKeys.pin("rot-carol", oldCarol.publicKey);
    const erin = await join("rot-erin", { trust: "pinned", registry: false, keys: erinKeys, onReject: (error, subject) => pinnedRejects.push({ error, subject }) });
    const toDave = inbox(dave);
    const toErin = inbox(erin);
    await carol.send({ to: "rot-dave", text: "old key, before" });
    await expect.poll(() => toDave).toEqual(["old key, before"]);

    const next = generateIdentity("rot-carol");
    await carol.rotateKey(next);
    await expect.poll(() => [dave.keys.keyIdOf("rot-carol"), erin.keys.keyIdOf("rot-carol")]).toEqual([next.keyId, next.keyId]);

    await sendSignedBy(carol, oldCarol, "rot-dave", "old key, after");
    await sendSignedBy(carol, oldCarol, "rot-erin", "old key, after");
    await carol.send({ to: "rot-dave", text: "new key" });
    await carol.send({ to: "rot-erin", text: "new key" });
    await expect.poll(() => toDave).toEqual(["old key, before", "new key"]);
    await expect.poll(() => toErin).toEqual(["new key"]);
    // Only the inbox matters: carol's registry traffic signed just before the switch may be refused too.
    const atInbox = (list: typeof tofuRejects, agent: string) => codes(list.filter((r) => r.subject === subjects.agentInbox(agent)));
    await expect.poll(() => atInbox(tofuRejects, "rot-dave")).toEqual([[ErrorCode.SECURITY_KEY_MISMATCH, subjects.agentInbox("rot-dave")]]);
    await expect.poll(() => codes(pinnedRejects)).toEqual([[ErrorCode.SECURITY_SIGNATURE_INVALID, subjects.agentInbox("rot-erin")]]);
  });

  it("lets an agent that was offline learn every rotation when it connects; a tofu newcomer pins the latest key", async () => {
    const k0 = generateIdentity("rot-frank");
    const frank = await join("rot-frank", { identity: k0 });
    const graceId = generateIdentity("rot-grace");
    const graceKeys = new PinnedKeys();
    const grace1 = await join("rot-grace", { identity: graceId, keys: graceKeys });
    const early = inbox(grace1);
    await frank.send({ to: "rot-grace", text: "hello from k0" });
    await expect.poll(() => early).toEqual(["hello from k0"]);
    expect(graceKeys.keyIdOf("rot-frank")).toBe(k0.keyId);
    await grace1.close();

    const k1 = generateIdentity("rot-frank");
    const k2 = generateIdentity("rot-frank");
    await frank.rotateKey(k1);
    await frank.rotateKey(k2);
    await frank.send({ to: "rot-grace", text: "stored, signed by k2" });

    // Connect resolves once the stored history is applied: k0 -> k1 -> k2.
    const graceRejects: FleetError[] = [];
    const grace2 = await join("rot-grace", { identity: graceId, keys: graceKeys, onReject: (e) => graceRejects.push(e) });
    expect(graceKeys.keyIdOf("rot-frank")).toBe(k2.keyId);
    const late = inbox(grace2);
    await expect.poll(() => late).toEqual(["stored, signed by k2"]);

    const henry = await join("rot-henry");
    expect(henry.keys.keyIdOf("rot-frank")).toBe(k2.keyId);
    // Trust "pinned" and frank unknown: its rotations pin nothing.
    const ivyRejects: FleetError[] = [];
    const ivy = await join("rot-ivy", { trust: "pinned", registry: false, onReject: (e) => ivyRejects.push(e) });
    expect(ivy.keys.keyIdOf("rot-frank")).toBeUndefined();
    // Frank itself, reconnecting with its latest key, reads its own history without complaint.
    const frankRejects: FleetError[] = [];
    const frankAgain = await join("rot-frank", { identity: k2, onReject: (e) => frankRejects.push(e) });
    expect(frankAgain.keys.keyIdOf("rot-frank")).toBe(k2.keyId);
    await frankAgain.send({ to: "rot-grace", text: "k2 again" });
    await expect.poll(() => late).toEqual(["stored, signed by k2", "k2 again"]);
    expect([graceRejects, ivyRejects, frankRejects]).toEqual([[], [], []]);
    // Reconnecting with a key rotated away is reported: everything it signs will be refused.
    const staleRejects: FleetError[] = [];
    const stale = await join("rot-frank", { identity: k0, registry: false, onReject: (e) => staleRejects.push(e) });
    expect(stale.keys.keyIdOf("rot-frank")).toBe(k2.keyId);
    expect(staleRejects.length).toBeGreaterThan(0);
    expect(staleRejects.map((e) => e.code)).toEqual(staleRejects.map(() => ErrorCode.SECURITY_KEY_MISMATCH));
  });

  it("refuses forged rotations with their code and changes nothing", async () => {
    const judyId = generateIdentity("rot-judy");
    const judy = await join("rot-judy", { identity: judyId });
    const rejects: { error: FleetError; subject: string }[] = [];
    const kenKeys = new PinnedKeys();
    kenKeys.pin("rot-judy", judyId.publicKey);
    // Only refusals on the key subjects count here (other agents' live traffic is not this test's business).
    const ken = await join("rot-ken", { keys: kenKeys, onReject: (error, subject) => subject.startsWith("fleet.v1.keys.") && rejects.push({ error, subject }) });
    const toKen = inbox(ken);
    const keys = subjects.keys("rot-judy");

    // Signed by another key that claims judy's name (its own key as the old key, or judy's).
    const mallory = generateIdentity("rot-judy");
    await storeForged(ken, keys, mallory, createKeyRotation(mallory, generateIdentity("rot-judy"), Date.now()));
    const claimed = createKeyRotation(judyId, generateIdentity("rot-judy"), Date.now());
    await storeForged(ken, keys, mallory, claimed);
    // Signed by judy's key, without the new key's proof.
    const unproven = createKeyRotation(judyId, generateIdentity("rot-judy"), Date.now());
    unproven.newKeySignature = mallory.sign(new Uint8Array(8));
    await storeForged(judy, keys, judyId, unproven);
    // Genuine, but stored on someone else's subject.
    await storeForged(judy, subjects.keys("rot-ken"), judyId, createKeyRotation(judyId, generateIdentity("rot-judy"), Date.now()));
    // Genuine, but stored long after it was made (a replayed statement): judged at store time.
    const stale = buildEnvelope({ to: "fleet:hub", type: MessageType.COMMAND, body: { case: "keyRotation", value: createKeyRotation(judyId, generateIdentity("rot-judy"), Date.now()) } }, "rot-judy", {
      ...systemClock,
      now: () => Date.now() - 3_600_000,
    });
    await judy.carrier.publishDurable(keys, create(PacketSchema, { kind: { case: "signed", value: signEnvelope(stale, judyId) } }), stale.id, { publicKey: judyId.publicKey });

    await expect.poll(() => rejects.length).toBe(5);
    expect(codes(rejects)).toEqual([
      [ErrorCode.SECURITY_KEY_MISMATCH, keys],
      [ErrorCode.SECURITY_KEY_MISMATCH, keys],
      [ErrorCode.SECURITY_KEY_MISMATCH, keys],
      [ErrorCode.SECURITY_UNAUTHORIZED, subjects.keys("rot-ken")],
      [ErrorCode.SECURITY_CLOCK_SKEW, keys],
    ]);
    expect(kenKeys.keyIdOf("rot-judy")).toBe(judyId.keyId);
    expect(judy.keys.keyIdOf("rot-judy")).toBe(judyId.keyId);
    await judy.send({ to: "rot-ken", text: "still my key" });
    await expect.poll(() => toKen).toEqual(["still my key"]);
  });

  it("keeps each agent's rotations in FLEET_KEYS without an age limit, deduped by envelope id", async () => {
    const lee = await join("rot-lee");
    const jsm = await lee.carrier.nc.jetstreamManager();
    const info = await jsm.streams.info(STREAMS.keys.name);
    expect(info.config.subjects).toEqual(["fleet.v1.keys.*"]);
    expect(info.config.max_msgs_per_subject).toBe(64);
    expect(info.config.max_age).toBe(0);
    const next = generateIdentity("rot-lee");
    const env = buildEnvelope({ to: "fleet:hub", type: MessageType.COMMAND, body: { case: "keyRotation", value: createKeyRotation(lee.identity, next, Date.now()) } }, "rot-lee", systemClock);
    const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, lee.identity) } });
    const first = await lee.carrier.publishDurable(subjects.keys("rot-lee"), packet, env.id);
    const again = await lee.carrier.publishDurable(subjects.keys("rot-lee"), packet, env.id);
    expect([first.duplicate, again.duplicate, again.seq]).toEqual([false, true, first.seq]);
  });
});
