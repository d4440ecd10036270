// `fleet demo`: an embedded hub on an ephemeral loopback port and three agents that
// handshake and exchange signed messages (direct, group, capability, broadcast, a ping,
// and an offline delivery), printing what happened. Leaves nothing behind.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { recipientText } from "../../client/address.js";
import { pingBody } from "../../client/bodies.js";
import type { HubConnection } from "../../client/connection.js";
import { applicationValue } from "../../client/draft.js";
import { connectHub } from "../../client/hub-client.js";
import { generateIdentity } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { startHub } from "../../hub/start.js";
import type { Command } from "../command.js";

export const demo: Command = {
  name: "demo",
  summary: "start an embedded hub and three agents exchanging signed messages, then exit",
  usage: "fleet demo",
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), "fleet-demo-"));
    const events: Record<string, unknown>[] = [];
    const say = (text: string, event: Record<string, unknown>) => {
      ctx.out.line(text);
      events.push(event);
    };
    const running = await startHub({ storeDir: join(dir, "hub"), identity: generateIdentity("fleet-hub"), port: 0 });
    const conns: HubConnection[] = [];
    try {
      say(`hub     listening on ${running.url} (store ${join(dir, "hub")})`, { event: "hub", url: running.url });
      const join_ = async (name: string, opts: { capabilities?: string[]; groups?: string[] } = {}) => {
        const identity = generateIdentity(name);
        const c = await connectHub({ port: running.port, identity, ...opts });
        conns.push(c);
        say(`${name.padEnd(7)} handshake done, key ${identity.keyId}${opts.groups ? `, groups ${opts.groups}` : ""}${opts.capabilities ? `, offers ${opts.capabilities}` : ""}`, { event: "online", agent: name, key_id: identity.keyId });
        return c;
      };
      const alpha = await join_("alpha");
      const beta = await join_("beta", { groups: ["ops"], capabilities: ["compute"] });
      const gamma = await join_("gamma", { groups: ["ops"] });
      const seen = new Map<string, number>();
      let expected = 0;
      let resolveAll: () => void = () => {};
      const allIn = new Promise<void>((r) => (resolveAll = r));
      for (const c of [alpha, beta, gamma]) {
        c.onMessage((env, meta) => {
          const payload = applicationValue(env);
          say(`${c.agent.padEnd(7)} <- ${env.sender} via ${recipientText(env.recipient)}: ${JSON.stringify(payload)} (${meta.verified ? "signature verified end to end" : "session-authenticated"})`, {
            event: "received",
            agent: c.agent,
            from: env.sender,
            to: recipientText(env.recipient),
            payload,
            verified: meta.verified,
          });
          seen.set(c.agent, (seen.get(c.agent) ?? 0) + 1);
          if (--expected === 0) resolveAll();
        });
      }
      expected = 1 + 2 + 1 + 2; // direct, group (beta+gamma), capability (beta), broadcast (beta+gamma)
      const r = await alpha.send({ to: "beta", json: { hello: "beta" }, requiresAck: true });
      say(`alpha   -> beta: accepted by the hub (receipt ${r ? "ACCEPTED" : "none"})`, { event: "receipt", id: r?.messageId });
      await alpha.send({ to: "group:ops", json: { deploy: "v2" }, requiresAck: true });
      await alpha.send({ to: "capability:compute", json: { job: 42 }, requiresAck: true });
      await alpha.send({ to: "fleet:broadcast", text: "hello fleet", requiresAck: true });
      await Promise.race([allIn, new Promise((_, rej) => setTimeout(() => rej(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "demo messages did not all arrive")), 5_000))]);
      const t0 = performance.now();
      await gamma.request({ to: "alpha", type: MessageType.QUERY, body: pingBody() }, 5_000);
      say(`gamma   ping alpha: ${(performance.now() - t0).toFixed(2)} ms round trip`, { event: "ping", rtt_ms: performance.now() - t0 });
      // Offline delivery: delta is away; the hub stores the message and hands it over on connect.
      const delta = generateIdentity("delta");
      await beta.send({ to: "delta", json: { note: "while you were out" }, requiresAck: true });
      say(`beta    -> delta (offline): stored by the hub`, { event: "stored", to: "delta" });
      const late = await connectHub({ port: running.port, identity: delta });
      conns.push(late);
      const arrived = await new Promise<unknown>((resolve, reject) => {
        late.onMessage((env, meta) => resolve({ payload: applicationValue(env), verified: meta.verified, from: env.sender }));
        setTimeout(() => reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "offline message was not delivered")), 5_000);
      });
      say(`delta   connected and received ${JSON.stringify(arrived)}`, { event: "offline-delivered", ...(arrived as object) });
      const stats = running.hub.stats();
      say(`hub     routed ${stats.routed} messages, ${stats.online.length} agents online; demo done`, { event: "done", routed: stats.routed });
      ctx.out.result({ ok: true, events });
    } finally {
      for (const c of conns) await c.close().catch(() => {});
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
