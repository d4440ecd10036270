// TCP carrier for frames (spec/frame.md): a FrameConnection over node:net, and a listener.
// Node-only. Writes issued in one tick are corked together into one writev, and a frame's
// header and body go into it as two buffers: the body is never copied.
import { createConnection, createServer, isIP, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from "../codec/index.js";
import { encodeFrameHeader } from "../codec/frame.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { FrameConnectionBase } from "./frame-connection-base.js";
import type { FrameConnection, FrameListener } from "./listener.js";

export interface TcpOptions {
  /** Largest frame body accepted from the peer (default: the protocol maximum, 2 MiB). */
  maxFrameBytes?: number;
}

/** TLS for a client: trust `ca` (PEM; default: the system roots) or accept exactly the certificate whose SHA-256 is `pinSha256`. */
export interface TlsClientOptions {
  ca?: string | Uint8Array;
  /** SHA-256 of the hub certificate's DER bytes, hex (colons and case ignored). With a pin, only that certificate is accepted. */
  pinSha256?: string;
  /** Name checked against the certificate (default: the host). */
  servername?: string;
}

/** TLS for a listener: certificate chain and private key, PEM. */
export interface TlsServerOptions {
  cert: string | Uint8Array;
  key: string | Uint8Array;
}

const normalizePin = (pin: string) => pin.replace(/:/g, "").toLowerCase();

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

class TcpFrameConnection extends FrameConnectionBase implements FrameConnection {
  readonly remote: string;
  private readonly decoder: FrameDecoder;
  private corked = false;
  private reading = true;

  constructor(private readonly socket: Socket, options: TcpOptions) {
    super();
    this.remote = `tcp://${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes ?? MAX_FRAME_BYTES });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("end", () => {
      // A peer that vanishes mid-frame is a truncation; a clean end is just a close.
      if (!this.reading) return;
      try {
        this.decoder.end();
      } catch (e) {
        this.fail(asFleetError(e, ErrorCode.WIRE_TRUNCATED, "frame"));
        return;
      }
      this.destroy();
    });
    socket.on("drain", () => this.drainHandler());
    socket.on("error", () => this.destroy());
    socket.on("close", () => this.finish());
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.socket.writableLength;
  }

  setMaxFrameBytes(max: number): void {
    this.decoder.setMaxFrameBytes(max);
  }

  send(body: Uint8Array): void {
    if (this.closed || this.socket.destroyed) return;
    // Checked first: an oversize body throws 703 before anything is queued.
    const header = encodeFrameHeader(body.length);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(header);
    this.socket.write(body);
  }

  close(errorBody?: Uint8Array): void {
    if (this.closed) return;
    this.reading = false;
    if (this.socket.destroyed) return this.destroy();
    // end() flushes what is queued (and the last frame), unlike destroy().
    if (errorBody) this.socket.end(encodeFrame(errorBody));
    else this.socket.end();
    // Do not wait forever for a peer that never reads its last frames.
    setTimeout(() => this.destroy(), 2_000).unref();
  }

  // Each frame is handled before the next header is read, so a limit changed by its handler
  // (the hub's, once the handshake completes) applies to the next frame of the same chunk.
  private receive(chunk: Uint8Array): void {
    if (!this.reading) return;
    try {
      this.decoder.pushEach(chunk, (body) => {
        this.frameHandler(body);
        return this.reading;
      });
    } catch (e) {
      if (this.reading) this.fail(asFleetError(e, ErrorCode.WIRE_MALFORMED, "frame"));
    }
  }

  private fail(error: FleetError): void {
    this.reading = false;
    this.socket.pause();
    if (this.errorHandler) this.errorHandler(error);
    else this.destroy();
  }

  private destroy(): void {
    this.reading = false;
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    this.markClosed();
  }
}

/** Wraps an already connected socket. */
export function frameConnectionFromSocket(socket: Socket, options: TcpOptions = {}): FrameConnection {
  return new TcpFrameConnection(socket, options);
}

/** Connects to host:port; rejects with 805 when nobody listens. */
export function connectTcp(host: string, port: number, options: TcpOptions & { timeoutMs?: number; tls?: TlsClientOptions } = {}): Promise<FrameConnection> {
  const tls = options.tls;
  if (tls) return connectTls(host, port, tls, options);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `connect to ${host}:${port} timed out`));
    }, options.timeoutMs ?? 5_000);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(new TcpFrameConnection(socket, options));
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `cannot reach hub at ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
  });
}

/** TLS: the certificate verified against ca (or the system roots) and the host name, or matched against a pin; 104 otherwise. */
function connectTls(host: string, port: number, tls: TlsClientOptions, options: TcpOptions & { timeoutMs?: number }): Promise<FrameConnection> {
  return new Promise((resolve, reject) => {
    const pin = tls.pinSha256 ? normalizePin(tls.pinSha256) : undefined;
    const socket = tlsConnect({ host, port, ca: tls.ca === undefined ? undefined : Buffer.from(tls.ca), servername: tls.servername ?? (isIP(host) ? undefined : host), rejectUnauthorized: pin === undefined, ...(pin === undefined && isIP(host) ? { checkServerIdentity: () => undefined } : {}) });
    const fail = (message: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, message));
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `TLS connect to ${host}:${port} timed out`));
    }, options.timeoutMs ?? 5_000);
    socket.once("secureConnect", () => {
      if (pin !== undefined) {
        const got = normalizePin(socket.getPeerCertificate().fingerprint256 ?? "");
        if (got !== pin) return fail(`hub certificate sha256 ${got} is not the pinned ${pin}`);
      }
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(new TcpFrameConnection(socket, options));
    });
    socket.once("error", (e) => {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME|ALTNAME/.test(code)) return fail(`hub certificate refused: ${code}`);
      clearTimeout(timer);
      reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `cannot reach hub at ${host}:${port}: ${code || e.message}`));
    });
  });
}

class TcpListener implements FrameListener {
  private handler: (conn: FrameConnection) => void = (c) => c.close();
  private readonly sockets = new Set<Socket>();
  constructor(private readonly server: Server, readonly url: string, readonly port: number, options: TcpOptions, tls = false) {
    server.on(tls ? "secureConnection" : "connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      this.handler(new TcpFrameConnection(socket, options));
    });
  }
  onConnection(handler: (conn: FrameConnection) => void): void {
    this.handler = handler;
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}

/** Listens on host:port (port 0 = ephemeral); the default host is loopback only. */
export function listenTcp(options: TcpOptions & { host?: string; port?: number; tls?: TlsServerOptions } = {}): Promise<FrameListener> {
  const host = options.host ?? "127.0.0.1";
  const tls = options.tls;
  return new Promise((resolve, reject) => {
    const server: Server = tls ? createTlsServer({ cert: Buffer.from(tls.cert), key: Buffer.from(tls.key), minVersion: "TLSv1.2" }) : createServer();
    server.maxConnections = 100_000;
    server.once("error", (e) => reject(new FleetError(ErrorCode.INTERNAL_ERROR, `cannot listen on ${host}:${options.port ?? 0}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    server.listen({ host, port: options.port ?? 0, backlog: 4096 }, () => {
      const port = (server.address() as { port: number }).port;
      resolve(new TcpListener(server, `${tls ? "tls" : "tcp"}://${host}:${port}`, port, options, !!tls));
    });
  });
}
