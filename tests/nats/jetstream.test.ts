// JetStream durability on a real nats-server: dedupe by Nats-Msg-Id, max_age TTL,
// delivery tracking from a durable consumer's acks, and survival across a restart.
import { create } from "@bufbuild/protobuf";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PacketSchema, SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { deliveryStatus, ensureAgentConsumer, ensureStreams, isAcknowledged } from "../../runtime/nats/jetstream.js";
import { STREAMS, subjects } from "../../runtime/nats/subjects.js";
import { fromWire, toWire } from "../../runtime/nats/wire.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const packet = (n: number) =>
  create(PacketSchema, {
    kind: { case: "signed", value: { payloadType: "application/vnd.fleet.v1.envelope+proto", payload: new Uint8Array([n]), signature: { scheme: SignatureScheme.ED25519, keyId: "k", sig: new Uint8Array(64) } } },
  });

async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!hasNatsServer)("JetStream durability", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    await ensureStreams(await nc.jetstreamManager());
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("creates both streams idempotently", async () => {
    const jsm = await nc.jetstreamManager();
    await ensureStreams(jsm);
    const inbox = await jsm.streams.info(STREAMS.inbox.name);
    expect(inbox.config.subjects).toEqual(["fleet.v1.agent.*.inbox"]);
    expect(inbox.config.duplicate_window).toBe(600_000_000_000);
    expect((await jsm.streams.info(STREAMS.bottles.name)).config.subjects).toEqual(["fleet.v1.bottle.*"]);
  });

  it("drops a resend with the same Nats-Msg-Id", async () => {
    const js = nc.jetstream();
    const w = toWire(packet(1), { msgId: "dup-1" });
    const first = await js.publish(subjects.agentInbox("dedupe"), w.data, { headers: w.headers, msgID: "dup-1" });
    const again = await js.publish(subjects.agentInbox("dedupe"), w.data, { headers: w.headers, msgID: "dup-1" });
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    expect(again.seq).toBe(first.seq);
  });

  it("tracks delivery through the durable consumer's acks", async () => {
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const agent = "tracked.agent";
    const acks = [];
    for (let i = 0; i < 3; i++) {
      const w = toWire(packet(i));
      acks.push(await js.publish(subjects.agentInbox(agent), w.data, { headers: w.headers }));
    }
    const name = await ensureAgentConsumer(jsm, "inbox", agent);
    expect(await deliveryStatus(jsm, "inbox", agent)).toMatchObject({ pending: 3, unacknowledged: 0 });
    const consumer = await js.consumers.get(STREAMS.inbox.name, name);
    const got: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await consumer.next({ expires: 5_000 });
      expect(m).not.toBeNull();
      got.push(fromWire(m!.data, m!.headers).kind.value!.payload[0]);
      if (i < 2) await m!.ackAck();
    }
    expect(got).toEqual([0, 1, 2]);
    const status = await deliveryStatus(jsm, "inbox", agent);
    expect(status).toMatchObject({ pending: 0, unacknowledged: 1 });
    expect(isAcknowledged(status, acks[1].seq)).toBe(true);
    expect(isAcknowledged(status, acks[2].seq)).toBe(false);
  });

  it("keeps stored messages across a nats-server restart (same port and store)", async () => {
    const jsm = await nc.jetstreamManager();
    const agent = "survivor";
    const js = nc.jetstream();
    for (let i = 0; i < 5; i++) {
      const w = toWire(packet(i), { msgId: `s-${i}` });
      await js.publish(subjects.agentInbox(agent), w.data, { headers: w.headers, msgID: `s-${i}` });
    }
    await server.restart();
    await until(async () => {
      try {
        await nc.flush();
        return true;
      } catch {
        return false;
      }
    });
    const name = await ensureAgentConsumer(jsm, "inbox", agent);
    const consumer = await js.consumers.get(STREAMS.inbox.name, name);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await consumer.next({ expires: 5_000 });
      got.push(fromWire(m!.data, m!.headers).kind.value!.payload[0]);
      await m!.ackAck();
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it("expires stored messages after max_age", async () => {
    const jsm = await nc.jetstreamManager();
    await ensureStreams(jsm, { inboxMaxAgeMs: 1_000, duplicateWindowMs: 1_000 });
    try {
      const w = toWire(packet(9));
      await nc.jetstream().publish(subjects.agentInbox("short-lived"), w.data, { headers: w.headers });
      await until(async () => (await jsm.streams.info(STREAMS.inbox.name, { subjects_filter: subjects.agentInbox("short-lived") })).state.messages === 0);
    } finally {
      await ensureStreams(jsm);
    }
  });
});
