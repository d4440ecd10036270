// Starts a hub on a TCP listener (127.0.0.1 by default; port 0 = ephemeral).
import { listenTcp } from "../transport/tcp.js";
import { Hub } from "./hub.js";
import type { HubOptions } from "./options.js";

export interface RunningHub {
  hub: Hub;
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startHub(opts: HubOptions & { host?: string; port?: number }): Promise<RunningHub> {
  const hub = new Hub(opts);
  let listener;
  try {
    listener = await listenTcp({ host: opts.host, port: opts.port, maxFrameBytes: hub.options.maxFrameBytes });
  } catch (e) {
    await hub.close();
    throw e;
  }
  hub.serve(listener);
  return { hub, host: opts.host ?? "127.0.0.1", port: listener.port, url: listener.url, close: () => hub.close() };
}
