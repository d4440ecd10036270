// The same FleetConnection API on NATS as on a hub: status as events and as an async
// iterator (nats.js reconnects; its events become connected / disconnected / reconnecting /
// closed), messages() as a bounded async iterator, AbortSignal (903), drain() and
// `await using`. On a real nats-server, killed and restarted on the same port.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { connectNats } from "../../runtime/nats/connection.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

describe.skipIf(!hasNatsServer)("NATS FleetConnection API", () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("reports connecting, connected, disconnected, reconnecting, connected, closed across a server kill -9; messages() keeps reading", async () => {
    const events: string[] = [];
    const alice = await connectNats({ url: server.url, identity: generateIdentity("api-alice"), registry: false, onStatus: (e) => events.push(e.status) });
    await using bob = await connectNats({ url: server.url, identity: generateIdentity("api-bob"), registry: false });
    const iterated: string[] = [];
    const statuses: string[] = [];
    const watching = (async () => {
      for await (const s of alice.statuses()) statuses.push(s.status);
    })();
    const reading = (async () => {
      for await (const m of bob.messages()) {
        expect(m.meta.verified).toBe(true);
        iterated.push(m.env.id);
      }
    })();
    await alice.send({ id: "before", to: "api-bob", text: "1", requiresAck: true });
    await server.restart("SIGKILL");
    await expect.poll(() => alice.status, { timeout: 15_000, interval: 20 }).toBe("connected");
    await alice.send({ id: "after", to: "api-bob", text: "2", requiresAck: true });
    await expect.poll(() => iterated, { timeout: 10_000, interval: 20 }).toEqual(["before", "after"]);
    await alice.drain();
    await watching;
    expect(events[0]).toBe("connecting");
    expect(events).toEqual(expect.arrayContaining(["connected", "disconnected", "reconnecting", "closed"]));
    expect(statuses[0]).toBe("connected");
    expect(statuses).toEqual(expect.arrayContaining(["disconnected", "reconnecting", "closed"]));
    await bob.close();
    await reading; // ends with the connection
  });

  it("AbortSignal on send and request rejects 903; drain() refuses new sends and waits for durable ones", async () => {
    const carol = await connectNats({ url: server.url, identity: generateIdentity("api-carol"), registry: false });
    await expect(carol.send({ to: "api-dave", text: "x" }, { signal: AbortSignal.abort() })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.CANCELLED));
    const controller = new AbortController();
    const waiting = carol.request({ to: "api-dave", text: "anyone?" }, { timeoutMs: 60_000, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.CANCELLED));
    const sends = Array.from({ length: 20 }, (_, i) => carol.send({ to: "api-dave", json: i, requiresAck: true }));
    const draining = carol.drain();
    await expect(carol.send({ to: "api-dave", text: "late" })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE));
    await draining;
    expect((await Promise.allSettled(sends)).every((s) => s.status === "fulfilled")).toBe(true);
    expect(carol.status).toBe("closed");
  });
});
