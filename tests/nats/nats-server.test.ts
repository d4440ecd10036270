// The test support helper itself: a real nats-server starts, restarts on the same port, stops.
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { hasNatsServer, natsSkipMessage, startNatsServer } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

describe.skipIf(!hasNatsServer)("startNatsServer", () => {
  it("starts with JetStream on a loopback port and restarts on the same port", async () => {
    const server = await startNatsServer();
    try {
      expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
      const nc = await connect({ servers: server.url });
      const info = await (await nc.jetstreamManager()).getAccountInfo();
      expect(info.streams).toBe(0);
      await nc.close();
      await server.restart();
      const again = await connect({ servers: server.url });
      expect(again.info?.jetstream).toBe(true);
      await again.close();
    } finally {
      await server.stop();
    }
  });
});
