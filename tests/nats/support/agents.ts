// One nats-server per describe block and the agents a test joins with, all closed afterwards.
import { afterAll, beforeAll } from "vitest";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { connectNats, type NatsFleetConnection } from "../../../runtime/nats/connection.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";

export type JoinOptions = Partial<Parameters<typeof connectNats>[0]>;

/** Call inside a describe: returns join(name, options), which connects a new identity to the block's server. */
export function natsAgents(): (name: string, extra?: JoinOptions) => Promise<NatsFleetConnection> {
  let server: NatsServerHandle | undefined;
  const open: NatsFleetConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await server?.stop();
  });
  return async (name, extra = {}) => {
    const c = await connectNats({ url: server!.url, identity: generateIdentity(name), ...extra });
    open.push(c);
    return c;
  };
}
