// A client that survives its hub: connectHub reconnects by default (jittered exponential
// backoff), runs the handshake again, re-joins its groups and capabilities, resends every
// acknowledged send still without a receipt (same id), holds new sends up to a bound (804
// past it), and reports its status as events and as an async iterator.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HubConnection } from "../../runtime/client/connection.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { backoffDelay, DEFAULT_RECONNECT, type StatusEvent } from "../../runtime/client/status.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { cleanup, inProcessHub, spawnHub, tmpDir, until } from "../hub/support.js";

afterEach(cleanup);

const FAST = { initialDelayMs: 20, maxDelayMs: 200 };

function statusLog(c: HubConnection): string[] {
  const seen: string[] = [c.status];
  c.onStatus((e) => seen.push(e.status));
  return seen;
}

describe("client reconnection", () => {
  it("kill -9 of a real hub mid-stream, restarted on the same port and store: every agent reconnects and every acknowledged message arrives exactly once", async () => {
    const home = tmpDir();
    let hub = await spawnHub(home);
    const port = hub.port;
    const senders = await Promise.all(["alpha", "gamma"].map((n) => connectHub({ port, identity: generateIdentity(n), reconnect: FAST })));
    const beta = await connectHub({ port, identity: generateIdentity("beta"), reconnect: FAST });
    const got: string[] = [];
    beta.onMessage((env) => got.push(env.id));
    const logs = [...senders, beta].map(statusLog);

    const sends: Promise<unknown>[] = [];
    const accepted = new Set<string>();
    const failed: unknown[] = [];
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const sender = senders[i % 2]!;
        const id = `${sender.agent}-${i}`;
        sends.push(sender.send({ id, to: "beta", json: { i }, requiresAck: true }).then(() => accepted.add(id), (e) => failed.push(e)));
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
      }
    };
    // Mid-stream whatever the machine's speed: the hub dies once 60 sends are acknowledged
    // (others of the first 200 may still be in flight), and the last 200 are sent while it is down.
    await send(0, 200);
    await until(() => accepted.size >= 60, 20_000, "60 acknowledged before the kill");
    hub.child.kill("SIGKILL");
    await hub.exited;
    await send(200, 400); // held for the next link
    hub = await spawnHub(home, ["--port", String(port)]);
    await Promise.all(sends);
    expect(failed).toEqual([]);
    expect(accepted.size).toBe(400);
    await until(() => got.length >= 400, 15_000, "every acknowledged message at beta");
    await new Promise((r) => setTimeout(r, 300));
    const counts = new Map<string, number>();
    for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(got)).toEqual(accepted);
    // The restarted hub read its ticket key back from its store: every agent resumed (HMACs, no Ed25519).
    for (const c of [...senders, beta]) expect(c.resumed).toBe(true);
    for (const log of logs) {
      expect(log.slice(0, 1)).toEqual(["connected"]);
      expect(log).toContain("disconnected");
      expect(log).toContain("reconnecting");
      expect(log.at(-1)).toBe("connected");
    }
    for (const c of [...senders, beta]) await c.close();
  });

  it("re-joins its groups and capabilities on a hub that lost them, and reports every status through statuses()", async () => {
    const hubIdentity = generateIdentity("fleet-hub");
    let hub = await inProcessHub({ identity: hubIdentity });
    const port = hub.port;
    const alpha = await connectHub({ port, identity: generateIdentity("alpha"), groups: ["crew"], capabilities: ["summarize@1.0"], reconnect: FAST });
    const seen: StatusEvent[] = [];
    const reading = (async () => {
      for await (const s of alpha.statuses()) seen.push(s);
    })();
    await hub.close();
    // A new hub, same name and key, on the same port, with an empty store.
    hub = await inProcessHub({ identity: hubIdentity, port, storeDir: join(tmpDir(), "hub") });
    await until(() => alpha.status === "connected" && seen.some((s) => s.status === "reconnecting"), 10_000, "reconnected");
    await until(() => (hub.hub.registry.agent("alpha")?.groups ?? []).includes("crew"), 5_000, "groups re-joined");
    // An empty store is a new ticket key: the ticket is refused, dropped, and the full handshake runs.
    expect(hub.hub.tickets.counters.refused).toBe(1);
    expect(alpha.resumed).toBe(false);
    const found = await alpha.queryRegistry({ capability: "summarize" });
    expect(found.agents.map((a) => a.agentId)).toEqual(["alpha"]);
    await alpha.close();
    await reading;
    expect(seen.map((s) => s.status)).toEqual(expect.arrayContaining(["connected", "disconnected", "reconnecting", "closed"]));
    expect(seen[0]!.status).toBe("connected");
    expect(seen.at(-1)!.status).toBe("closed");
  });

  it("holds sends while disconnected up to maxHeldSends, then refuses new ones with 804; held ones go out after reconnecting", async () => {
    const hubIdentity = generateIdentity("fleet-hub");
    const storeDir = join(tmpDir(), "hub");
    let hub = await inProcessHub({ identity: hubIdentity, storeDir });
    const port = hub.port;
    const alpha = await connectHub({ port, identity: generateIdentity("alpha"), reconnect: { ...FAST, maxHeldSends: 2 } });
    const beta = await connectHub({ port, identity: generateIdentity("beta"), reconnect: FAST });
    const got: string[] = [];
    beta.onMessage((env) => got.push(env.id));
    await hub.close();
    await until(() => alpha.status !== "connected", 5_000, "alpha disconnected");
    const held = [alpha.send({ id: "h1", to: "beta", text: "1", requiresAck: true }), alpha.send({ id: "h2", to: "beta", text: "2", requiresAck: true })];
    await expect(alpha.send({ id: "h3", to: "beta", text: "3", requiresAck: true })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_BUSY));
    hub = await inProcessHub({ identity: hubIdentity, port, storeDir });
    await Promise.all(held);
    await until(() => got.length === 2, 5_000, "held messages delivered");
    expect(got).toEqual(["h1", "h2"]);
    expect(alpha.resumed).toBe(true);
    expect(hub.hub.tickets.counters.resumed).toBe(2);
    await alpha.close();
    await beta.close();
  });

  it("gives up after maxAttempts: closed, pending sends fail with 805; with reconnect: false a lost link closes at once", async () => {
    const hub = await inProcessHub();
    const port = hub.port;
    const alpha = await connectHub({ port, identity: generateIdentity("alpha"), reconnect: { ...FAST, maxAttempts: 2 } });
    const beta = await connectHub({ port, identity: generateIdentity("beta"), reconnect: false });
    const alphaClosed = new Promise((r) => alpha.onClose(r));
    const betaLog = statusLog(beta);
    await hub.close();
    await until(() => alpha.status !== "connected", 5_000, "alpha disconnected");
    const pending = alpha.send({ to: "beta", text: "never", requiresAck: true });
    await alphaClosed;
    await expect(pending).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE));
    expect(alpha.lastError?.message).toMatch(/gave up reconnecting/);
    await until(() => beta.status === "closed", 5_000, "beta closed");
    expect(betaLog).toEqual(["connected", "disconnected", "closed"]);
  });

  it("backoff doubles from initialDelayMs up to maxDelayMs, jittered into [half, full)", () => {
    const o = { ...DEFAULT_RECONNECT, initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, o, () => 0.999999))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, o, () => 0))).toEqual([50, 100, 200, 400, 500]);
  });

  it("by default an agent tries again within 1 s of its last failed attempt, however long the hub was gone, and agents that lost it together spread out", () => {
    const longest = Math.max(...Array.from({ length: 60 }, (_, n) => backoffDelay(n + 1, DEFAULT_RECONNECT, () => 0.999999)));
    expect(longest).toBeLessThanOrEqual(1_000);
    expect(backoffDelay(1, DEFAULT_RECONNECT, () => 0.999999)).toBe(100);
    // At the ceiling the delays of many agents cover [500, 1000) ms: no thundering herd.
    const delays = Array.from({ length: 1_000 }, (_, i) => backoffDelay(30, DEFAULT_RECONNECT, () => i / 1_000));
    expect(Math.min(...delays)).toBe(500);
    expect(Math.max(...delays)).toBe(1_000);
    expect(new Set(delays).size).toBeGreaterThan(400);
  });
});
