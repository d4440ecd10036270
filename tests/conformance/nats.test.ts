// The conformance suite over NATS: a fresh nats-server (JetStream on, random loopback port)
// per test, agents connecting through the NATS binding; nothing mocked.
import { describe, it } from "vitest";
import { connectNats } from "../../runtime/nats/connection.js";
import { hasNatsServer, natsSkipMessage, startNatsServer } from "../support/nats-server.js";
import { conformanceSuite } from "./suite.js";

if (hasNatsServer) {
  conformanceSuite({
    name: "nats",
    async start() {
      const server = await startNatsServer();
      return {
        connect: (identity) => connectNats({ url: server.url, identity }),
        stop: () => server.stop(),
      };
    },
  });
} else {
  console.warn(natsSkipMessage);
  describe.skip("conformance: nats", () => it("needs nats-server", () => {}));
}
