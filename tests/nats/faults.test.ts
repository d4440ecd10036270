// Faults on a real nats-server: it is killed and restarted (same port, same store) while
// agents are sending; clients reconnect by themselves and every durable message arrives,
// each delivered to the application once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applicationValue } from "../../runtime/client/draft.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

describe.skipIf(!hasNatsServer)("NATS faults", () => {
  let server: NatsServerHandle;
  const open: NatsFleetConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await server?.stop();
  });

  it("loses no durable message when nats-server is killed and restarted mid-traffic", async () => {
    const alice = await connectNats({ url: server.url, identity: generateIdentity("fault-alice") });
    const bob = await connectNats({ url: server.url, identity: generateIdentity("fault-bob") });
    open.push(alice, bob);
    const got: number[] = [];
    bob.onMessage((env) => got.push(applicationValue(env) as number));
    let disconnects = 0;
    void (async () => {
      for await (const s of alice.carrier.nc.status()) if (s.type === "disconnect") disconnects++;
    })();

    const total = 120;
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      if (i === 40) {
        restarted = server.restart("SIGKILL");
        await expect.poll(() => disconnects, { timeout: 10_000, interval: 5 }).toBeGreaterThan(0);
      }
      // Each send resolves only once JetStream stored it (retried under the same id while the server is down).
      const receipt = await alice.send({ to: "fault-bob", json: i, requiresAck: true });
      expect(receipt?.status).toBeDefined();
    }
    await restarted;
    await expect.poll(() => new Set(got).size, { timeout: 20_000 }).toBe(total);
    expect(got).toHaveLength(total); // exactly once to the application
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));

    // Live subscriptions came back too.
    const live: unknown[] = [];
    bob.onMessage((env) => live.push(applicationValue(env)));
    await alice.send({ to: "fleet:broadcast", text: "after the restart" });
    await expect.poll(() => live, { timeout: 5_000 }).toContain("after the restart");
  }, 60_000);
});
