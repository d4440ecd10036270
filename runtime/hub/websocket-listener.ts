// The hub's WebSocket listener (Node, `ws`): accepts ws:// connections carrying the same
// frames as TCP (one frame per binary message) and hands them to the hub as FrameConnections.
// Browsers on any web page can open a socket to 127.0.0.1, so by default only pages served
// from a loopback origin (and non-browser clients, which send no Origin) are let in.
import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { WebSocketServer, type WebSocket } from "ws";
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from "../codec/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { FrameConnection, FrameListener } from "../transport/listener.js";
import { FLEET_WS_PROTOCOL, WebSocketFrameConnection, type WebSocketLike } from "../transport/websocket.js";

export interface WebSocketListenOptions {
  /** wss://: certificate chain and key (PEM); default plain ws://. */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
  /** Default 127.0.0.1: loopback only. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Largest frame body accepted (default the protocol maximum, 2 MiB); larger messages close the socket (1009) unread. */
  maxFrameBytes?: number;
  /**
   * Largest frame body accepted on a new connection until its owner raises the limit with
   * setMaxFrameBytes (the hub: until the handshake completes; it passes its
   * maxHandshakeFrameBytes, 16 KiB). Default maxFrameBytes. A message announcing more is
   * refused from its header (close 1009), before its payload is buffered.
   */
  maxHandshakeFrameBytes?: number;
  /**
   * Browser origins allowed besides loopback ones ("http://127.0.0.1:*", "http://localhost:*"),
   * e.g. ["https://fleet.example"]; "*" allows every origin.
   */
  allowedOrigins?: string[] | "*";
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Whether a browser page from this Origin header may connect. No Origin: not a browser. */
export function originAllowed(origin: string | undefined, allowed: string[] | "*" = []): boolean {
  if (origin === undefined || allowed === "*") return true;
  if (allowed.includes(origin)) return true;
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") && LOOPBACK_HOSTS.has(u.hostname);
  } catch {
    return false;
  }
}

/**
 * ws's maxPayload is server-wide, but its receiver reads the limit (`_maxPayload`, ws 8.x
 * lib/receiver.js) at every frame header, so setting it on one socket's receiver limits that
 * socket alone from its next frame on: the hub raises it once a handshake completes. Without
 * that receiver (another ws version) the connection cannot be raised, so it is refused
 * rather than left at a limit nobody controls.
 */
export function messageLimiter(ws: WebSocket): (maxFrameBytes: number) => void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== "number") {
    throw new FleetError(ErrorCode.INTERNAL_ERROR, "this ws version has no per-socket receiver limit (_receiver._maxPayload): pin ws 8.x");
  }
  return (maxFrameBytes) => {
    receiver._maxPayload = maxFrameBytes + FRAME_HEADER_BYTES;
  };
}

class WebSocketListener implements FrameListener {
  private handler: (conn: FrameConnection) => void = (c) => c.close();

  constructor(
    private readonly server: WebSocketServer,
    readonly url: string,
    readonly port: number,
    firstFrameBytes: number,
    maxFrameBytes: number,
  ) {
    server.on("connection", (ws: WebSocket, req: IncomingMessage) => {
      const remote = `ws://${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`;
      let limit: (bytes: number) => void;
      try {
        limit = messageLimiter(ws);
      } catch {
        ws.terminate();
        return;
      }
      // Never above the listener's own maximum, whatever the owner asks.
      const limitMessageBytes = (bytes: number) => limit(Math.min(bytes, maxFrameBytes));
      this.handler(new WebSocketFrameConnection(ws as unknown as WebSocketLike, { remote, maxFrameBytes: firstFrameBytes, limitMessageBytes }));
    });
  }

  onConnection(handler: (conn: FrameConnection) => void): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      for (const ws of this.server.clients) ws.terminate();
      this.server.close(() => resolve());
    });
  }
}

/** Listens for WebSocket connections on host:port (ws://host:port/, any path). */
export function listenWebSocket(options: WebSocketListenOptions = {}): Promise<FrameListener> {
  const host = options.host ?? "127.0.0.1";
  const maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
  const firstFrameBytes = Math.min(options.maxHandshakeFrameBytes ?? maxFrameBytes, maxFrameBytes);
  return new Promise((resolve, reject) => {
    // wss://: ws rides on an HTTPS server that this listener owns (closed with it).
    let https: HttpsServer | undefined;
    if (options.tls) https = createHttpsServer({ cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key), minVersion: "TLSv1.2" });
    const server = new WebSocketServer({
      ...(https ? { server: https } : { host, port: options.port ?? 0 }),
      // ws refuses a longer message from its header, before buffering it, like the TCP
      // decoder's 703. New sockets start at the handshake limit; messageLimiter raises one.
      maxPayload: firstFrameBytes + FRAME_HEADER_BYTES,
      perMessageDeflate: false,
      handleProtocols: (offered) => (offered.has(FLEET_WS_PROTOCOL) ? FLEET_WS_PROTOCOL : false),
      verifyClient: (info, done) => {
        if (originAllowed(info.origin || undefined, options.allowedOrigins)) done(true);
        else done(false, 403, "origin not allowed");
      },
    });
    const failed = (e: Error) =>
      reject(new FleetError(ErrorCode.INTERNAL_ERROR, `cannot listen on ${host}:${options.port ?? 0}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    const listening = () => {
      // Later server errors (e.g. failed accepts) must not crash the hub; connections fail alone.
      server.on("error", () => undefined);
      https?.on("error", () => undefined);
      const port = ((https ?? server).address() as { port: number }).port;
      const listener = new WebSocketListener(server, `${https ? "wss" : "ws"}://${host}:${port}`, port, firstFrameBytes, maxFrameBytes);
      if (https) {
        const close = listener.close.bind(listener);
        listener.close = async () => {
          await close();
          await new Promise<void>((r) => https!.close(() => r()));
        };
      }
      resolve(listener);
    };
    if (https) {
      https.once("error", failed);
      https.listen({ host, port: options.port ?? 0 }, listening);
    } else {
      server.once("error", failed);
      server.once("listening", listening);
    }
  });
}
