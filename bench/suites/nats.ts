// The NATS binding beside raw nats.js on the same nats-server, the same bytes, the same
// process layout: session-authenticated messaging vs raw core publish/subscribe of one
// session packet per message (goal: ratio >= 0.8), the same with session batching off
// (one SessionEnvelope and one NATS message per envelope, reported), and JetStream-durable
// sends vs raw JetStream publish (reported). Each message of ours is built, encoded,
// validated, authenticated, decoded, validated again and dispatched; the raw anchor
// publishes a ready-made packet. Skips cleanly when nats-server is missing. Bounded: fixed
// message counts, each run capped in time.
import { connect, headers, type NatsConnection } from "nats";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { CONTENT_TYPE, HEADER } from "../../runtime/nats/wire.js";
import { hasNatsServer, natsSkipMessage, startNatsServer } from "../../tests/support/nats-server.js";
import { median, type BenchRow, type BenchSuite } from "../harness.js";

const PAYLOAD_CHARS = 1_000; // ~1 KiB application payload
const CORE_MESSAGES = 20_000;
const DURABLE_MESSAGES = 2_000;
const BATCH = 500;
const WINDOW = 32;
const MAX_RUN_MS = 20_000;
const ROUNDS = 5;

/**
 * Publishes n messages in batches (each batch issued in one tick, its promises awaited
 * together, then a yield) and resolves with msg/s once all arrived.
 */
async function coreRate(n: number, publish: (i: number) => unknown, received: () => number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + BATCH);
    const pending: unknown[] = [];
    for (; i < end; i++) pending.push(publish(i));
    await Promise.all(pending);
    await new Promise((r) => setImmediate(r));
  }
  while (received() < n) {
    if (performance.now() - start > MAX_RUN_MS) throw new Error(`only ${received()} of ${n} messages arrived within ${MAX_RUN_MS} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return (n / (performance.now() - start)) * 1000;
}

/** n acknowledged durable publishes, WINDOW in flight at a time; stored msg/s. */
async function durableRate(n: number, publish: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i += WINDOW) {
    await Promise.all(Array.from({ length: Math.min(WINDOW, n - i) }, (_, k) => publish(i + k)));
    if (performance.now() - start > MAX_RUN_MS) throw new Error(`durable run exceeded ${MAX_RUN_MS} ms`);
  }
  return (n / (performance.now() - start)) * 1000;
}

export const suite: BenchSuite = {
  name: "nats",
  async run(): Promise<BenchRow[]> {
    if (!hasNatsServer) {
      process.stderr.write(`${natsSkipMessage}\n`);
      return [];
    }
    const server = await startNatsServer();
    const open: NatsFleetConnection[] = [];
    const raw: NatsConnection[] = [];
    try {
      const alice = await connectNats({ url: server.url, identity: generateIdentity("bench-alice") });
      const bob = await connectNats({ url: server.url, identity: generateIdentity("bench-bob") });
      const single = await connectNats({ url: server.url, identity: generateIdentity("bench-single"), sessionBatch: { envelopes: 1 } });
      open.push(alice, bob, single);
      let atBob = 0;
      bob.onMessage(() => atBob++);
      const text = "x".repeat(PAYLOAD_CHARS);

      // Session-authenticated: handshake once, then HMAC per message on the session subject.
      const { sessionId } = await alice.openSession("bench-bob");
      await single.openSession("bench-bob");
      // Capture one packet exactly as the binding puts it on the wire, for the raw anchor.
      const sessionSubject = subjects.session(sessionId, "initiator");
      const rawPub = await connect({ servers: server.url });
      const rawSub = await connect({ servers: server.url });
      raw.push(rawPub, rawSub);
      const sample = await new Promise<Uint8Array>((resolve) => {
        const spy = rawSub.subscribe(sessionSubject, { max: 1, callback: (_e, m) => resolve(m.data) });
        void rawSub.flush().then(() => alice.send({ to: "bench-bob", text, sign: false })).catch(() => spy.unsubscribe());
      });
      let atRaw = 0;
      rawSub.subscribe("bench.raw", { callback: () => atRaw++ });
      await rawSub.flush();
      const h = headers();
      h.set(HEADER.contentType, CONTENT_TYPE.packetProto);

      const ours: number[] = [];
      const unbatched: number[] = [];
      const anchor: number[] = [];
      // Round 0 warms every path up (JIT, buffers, subscriptions) and is not counted.
      for (let r = 0; r <= ROUNDS; r++) {
        if (r === 1) anchor.length = ours.length = unbatched.length = 0;
        atRaw = 0;
        anchor.push(await coreRate(CORE_MESSAGES, () => rawPub.publish("bench.raw", sample, { headers: h }), () => atRaw));
        atBob = 0;
        ours.push(await coreRate(CORE_MESSAGES, () => alice.send({ to: "bench-bob", text, sign: false }), () => atBob));
        atBob = 0;
        unbatched.push(await coreRate(CORE_MESSAGES, () => single.send({ to: "bench-bob", text, sign: false }), () => atBob));
      }

      // JetStream: the binding's durable direct send (Ed25519-signed, stored, PubAck awaited)
      // beside raw JetStream publishes of the same Packet bytes into the same stream.
      const js = rawPub.jetstream();
      let k = 0;
      const durableRaw = await durableRate(DURABLE_MESSAGES, () => js.publish(subjects.agentInbox("bench-raw"), sample, { headers: h, msgID: `raw-${k++}` }));
      const durableOurs = await durableRate(DURABLE_MESSAGES, () => alice.send({ to: "bench-offline", text }));

      const extra = { messages: CORE_MESSAGES, payload_bytes: sample.length, rounds: ROUNDS };
      return [
        { suite: "nats", name: "raw nats.js pub/sub (same bytes)", rate: median(anchor), unit: "msg/s", extra },
        { suite: "nats", name: "binding, session-authenticated", rate: median(ours), unit: "msg/s", anchor: "raw nats.js pub/sub (same bytes)", goal: { min: 0.8, on: "ratio" }, extra: { ...extra, batching: "per tick, up to 256 envelopes" } },
        { suite: "nats", name: "binding, session-authenticated, unbatched", rate: median(unbatched), unit: "msg/s", anchor: "raw nats.js pub/sub (same bytes)", extra: { ...extra, batching: "off (sessionBatch.envelopes 1)" } },
        { suite: "nats", name: "raw JetStream publish (acked)", rate: durableRaw, unit: "msg/s", extra: { messages: DURABLE_MESSAGES, in_flight: WINDOW } },
        { suite: "nats", name: "binding, JetStream-durable signed send", rate: durableOurs, unit: "msg/s", anchor: "raw JetStream publish (acked)", extra: { messages: DURABLE_MESSAGES, in_flight: WINDOW } },
      ];
    } finally {
      for (const c of open) await c.close();
      for (const c of raw) await c.close();
      await server.stop();
    }
  },
};
