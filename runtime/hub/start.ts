// Starts a hub on a TCP listener (127.0.0.1 by default; port 0 = ephemeral), and on a
// WebSocket listener for browsers when wsPort is given (same frames, same hub).
import { ErrorCode, FleetError } from "../errors.js";
import { isLoopbackHost, listenTcp, type TlsServerOptions } from "../transport/tcp.js";
import type { HistoryOptions } from "./history.js";
import { Hub } from "./hub.js";
import type { HubOptions } from "./options.js";
import { listenWebSocket } from "./websocket-listener.js";

export interface RunningHub {
  hub: Hub;
  host: string;
  port: number;
  url: string;
  /** ws://host:port when a WebSocket listener was asked for. */
  wsUrl?: string;
  wsPort?: number;
  close(): Promise<void>;
}

export async function startHub(opts: HubOptions & { host?: string; port?: number; wsPort?: number; wsAllowedOrigins?: string[] | "*"; history?: HistoryOptions; tls?: TlsServerOptions; insecure?: boolean }): Promise<RunningHub> {
  // Off loopback, plain TCP would carry admission and traffic readable by the network: refused unless asked for.
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopbackHost(host) && !opts.tls && !opts.insecure) {
    throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `refusing to listen on ${host} without TLS (give a certificate and key, or insecure)`);
  }
  // With a certificate the WebSocket listener is wss:// too; without one it is plain ws://, refused off loopback likewise.
  const hub = new Hub(opts);
  let listener;
  let ws;
  try {
    listener = await listenTcp({ host: opts.host, port: opts.port, maxFrameBytes: hub.options.maxFrameBytes, tls: opts.tls });
    hub.serve(listener);
    if (opts.wsPort !== undefined) {
      ws = await listenWebSocket({ host: opts.host, port: opts.wsPort, maxFrameBytes: hub.options.maxFrameBytes, maxHandshakeFrameBytes: hub.options.maxHandshakeFrameBytes, allowedOrigins: opts.wsAllowedOrigins, tls: opts.tls });
      hub.serve(ws);
    }
  } catch (e) {
    await hub.close();
    throw e;
  }
  return { hub, host: opts.host ?? "127.0.0.1", port: listener.port, url: listener.url, wsUrl: ws?.url, wsPort: ws?.port, close: () => hub.close() };
}
