// The transport-independent protocol suite: every binding (hub, NATS, ...) must pass it
// through nothing but the FleetConnection API. Add a binding with one test file calling
// conformanceSuite(binding).
import { describe, expect, it, afterEach, beforeEach } from "vitest";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { FleetConnection } from "../../runtime/client/connection.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { generateIdentity, type Identity } from "../../runtime/crypto/index.js";
import { isFleetError } from "../../runtime/errors.js";

export interface BindingInstance {
  connect(identity: Identity): Promise<FleetConnection>;
  stop(): Promise<void>;
}

export interface Binding {
  name: string;
  start(): Promise<BindingInstance>;
}

/** Waits (bounded) until check() holds. */
async function until(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function collect(c: FleetConnection): { env: Envelope; verified: boolean }[] {
  const got: { env: Envelope; verified: boolean }[] = [];
  c.onMessage((env, meta) => got.push({ env, verified: meta.verified }));
  return got;
}

export function conformanceSuite(binding: Binding): void {
  describe(`conformance: ${binding.name}`, () => {
    let instance: BindingInstance;
    const open: FleetConnection[] = [];
    const connect = async (name: string) => {
      const c = await instance.connect(generateIdentity(`${name}-${Math.random().toString(36).slice(2, 8)}`));
      open.push(c);
      return c;
    };
    beforeEach(async () => {
      instance = await binding.start();
    });
    afterEach(async () => {
      for (const c of open.splice(0)) await c.close().catch(() => {});
      await instance.stop();
    });

    it("delivers a direct message with its payload and sender, verified end to end", async () => {
      const a = await connect("alpha");
      const b = await connect("beta");
      const got = collect(b);
      await a.send({ to: b.agent, json: { hello: "beta", n: 1 }, requiresAck: true });
      await until(() => got.length === 1, 5_000, "delivery");
      expect(got[0].env.sender).toBe(a.agent);
      expect(got[0].verified).toBe(true);
      expect(applicationValue(got[0].env)).toEqual({ hello: "beta", n: 1 });
    });

    it("carries a burst of session-authenticated sends complete and in order", async () => {
      const a = await connect("alpha");
      const b = await connect("beta");
      const got = collect(b);
      // One tick's worth of sends (a NATS session batches them; the hub relays each).
      await Promise.all(Array.from({ length: 300 }, (_, i) => a.send({ to: b.agent, json: i, sign: false })));
      await until(() => got.length === 300, 10_000, "session deliveries");
      expect(got.map((m) => applicationValue(m.env))).toEqual(Array.from({ length: 300 }, (_, i) => i));
      // (verified differs by design: a NATS session is end to end with the sender; a hub re-seals.)
      expect(got.every((m) => m.env.sender === a.agent)).toBe(true);
    });

    it("acknowledges a message that requires one with an ACCEPTED receipt", async () => {
      const a = await connect("alpha");
      const b = await connect("beta");
      const receipt = await a.send({ to: b.agent, text: "ack me", requiresAck: true });
      expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    });

    it("answers a request with the recipient's response", async () => {
      const a = await connect("alpha");
      const b = await connect("beta");
      b.onMessage((env) => {
        if (env.type === MessageType.REQUEST) void b.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { echo: applicationValue(env) } });
      });
      const answer = await a.request({ to: b.agent, json: "ping?" }, 5_000);
      expect(answer.sender).toBe(b.agent);
      expect(applicationValue(answer)).toEqual({ echo: "ping?" });
    });

    it("broadcasts to every other agent, not back to the sender", async () => {
      const a = await connect("alpha");
      const b = await connect("beta");
      const c = await connect("gamma");
      const [ga, gb, gc] = [collect(a), collect(b), collect(c)];
      await a.send({ to: "fleet:broadcast", text: "all hands", requiresAck: true });
      await until(() => gb.length === 1 && gc.length === 1, 5_000, "broadcast");
      await new Promise((r) => setTimeout(r, 100));
      expect(ga).toEqual([]);
      expect([gb[0].env.sender, gc[0].env.sender]).toEqual([a.agent, a.agent]);
    });

    it("keeps an acknowledged message for an agent that is offline and delivers it when it connects", async () => {
      const a = await connect("alpha");
      const later = generateIdentity(`late-${Math.random().toString(36).slice(2, 8)}`);
      const receipt = await a.send({ to: later.agent, json: { stored: true }, requiresAck: true });
      expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
      const l = await instance.connect(later);
      open.push(l);
      const got = collect(l);
      await until(() => got.length === 1, 10_000, "stored delivery");
      expect(got[0].verified).toBe(true);
      expect(applicationValue(got[0].env)).toEqual({ stored: true });
    });

    it("refuses to send on a closed connection with a FleetError", async () => {
      const a = await connect("alpha");
      await a.close();
      await expect(a.send({ to: "anyone", text: "x" })).rejects.toSatisfy((e: unknown) => isFleetError(e));
    });
  });
}
