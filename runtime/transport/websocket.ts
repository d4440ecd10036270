// WebSocket carrier for frames (spec/frame.md): each binary WebSocket message holds exactly
// one frame, header included, so TCP and WebSocket share one decoder and the hub cannot tell
// them apart. Written against the standard WebSocket API only, so the same class runs in
// browsers (global WebSocket), in Node over the `ws` package (client and server side), and
// never imports a Node built-in.
import { decodeFrame, encodeFrame, MAX_FRAME_BYTES } from "../codec/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { FrameConnectionBase } from "./frame-connection-base.js";
import type { FrameConnection } from "./listener.js";

/** The part of the standard WebSocket API used here (browsers and `ws` both provide it). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly url?: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "close" | "error" | "message", listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The WebSocket subprotocol naming our framing, offered by clients and accepted by the hub. */
export const FLEET_WS_PROTOCOL = "fleet.v1.frame";

const OPEN = 1;
// 1008 "policy violation": the close after an error frame; 1000 a normal close.
const CLOSE_NORMAL = 1000;
const CLOSE_VIOLATION = 1008;
const DRAIN_POLL_MS = 10;
const CLOSE_GRACE_MS = 2_000;

export interface WebSocketFrameOptions {
  /** Largest frame body accepted from the peer (default: the protocol maximum, 2 MiB). */
  maxFrameBytes?: number;
  /** Readable peer address for logs; default the socket's url. */
  remote?: string;
  /**
   * Where the WebSocket implementation can refuse a too-large message from its announced
   * length, before buffering it (`ws` on Node; the standard API cannot): sets that limit for
   * this socket. Called with the frame limit now and on every setMaxFrameBytes.
   */
  limitMessageBytes?: (maxFrameBytes: number) => void;
}

/** A FrameConnection over an open (or opening) standard-API WebSocket. */
export class WebSocketFrameConnection extends FrameConnectionBase implements FrameConnection {
  readonly remote: string;
  private maxFrameBytes: number;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private reading = true;
  private readonly limitMessageBytes?: (maxFrameBytes: number) => void;

  constructor(private readonly socket: WebSocketLike, options: WebSocketFrameOptions = {}) {
    super();
    this.remote = options.remote ?? socket.url ?? "ws://?";
    this.maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.limitMessageBytes = options.limitMessageBytes;
    this.limitMessageBytes?.(this.maxFrameBytes);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event: { data: unknown }) => this.receive(event.data));
    socket.addEventListener("close", () => this.finish());
    // An "error" event is always followed by "close"; nothing to do before it.
    socket.addEventListener("error", () => undefined);
  }

  setMaxFrameBytes(max: number): void {
    this.maxFrameBytes = max;
    this.limitMessageBytes?.(max);
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.socket.bufferedAmount;
  }

  send(body: Uint8Array): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    this.socket.send(encodeFrame(body));
    this.watchDrain();
  }

  close(errorBody?: Uint8Array): void {
    if (this.closed) return;
    this.reading = false;
    if (this.socket.readyState === OPEN) {
      if (errorBody) this.socket.send(encodeFrame(errorBody));
      this.socket.close(errorBody ? CLOSE_VIOLATION : CLOSE_NORMAL, errorBody ? "protocol violation" : "");
    } else {
      this.socket.close();
    }
    // The closing handshake may never complete with a peer that stopped reading: where the
    // socket can be cut (ws on Node), cut it after a grace period, as the TCP carrier does.
    const terminate = (this.socket as { terminate?: () => void }).terminate;
    if (terminate) {
      const timer = setTimeout(() => terminate.call(this.socket), CLOSE_GRACE_MS);
      (timer as { unref?: () => void }).unref?.();
    }
    // The connection is over for its owner now either way.
    this.finish();
  }

  private receive(data: unknown): void {
    if (!this.reading) return;
    let body: Uint8Array;
    try {
      if (!(data instanceof ArrayBuffer)) throw new FleetError(ErrorCode.WIRE_MALFORMED, "text WebSocket messages are not frames: send binary");
      // The shared decoder: 701 unless exactly one frame, 702 cut short, 703/704 bad header.
      body = decodeFrame(new Uint8Array(data), this.maxFrameBytes);
    } catch (e) {
      this.fail(asFleetError(e, ErrorCode.WIRE_MALFORMED, "frame"));
      return;
    }
    this.frameHandler(body);
  }

  private fail(error: FleetError): void {
    this.reading = false;
    if (this.errorHandler) this.errorHandler(error);
    else this.close();
  }

  // The standard API has no drain event: poll bufferedAmount, only while a backlog exists.
  private watchDrain(): void {
    if (this.drainTimer !== undefined || this.socket.bufferedAmount === 0) return;
    const poll = () => {
      this.drainTimer = undefined;
      if (this.closed) return;
      if (this.socket.bufferedAmount === 0) this.drainHandler();
      else this.drainTimer = setTimeout(poll, DRAIN_POLL_MS);
    };
    this.drainTimer = setTimeout(poll, DRAIN_POLL_MS);
  }

  private finish(): void {
    if (this.closed) return;
    this.reading = false;
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.markClosed();
  }
}

export interface ConnectWebSocketOptions extends WebSocketFrameOptions {
  /** The WebSocket class; default globalThis.WebSocket (browsers). In Node 20 pass `WebSocket` from "ws". */
  WebSocket?: WebSocketConstructor;
  timeoutMs?: number;
}

/** Opens ws://host:port (or wss://); rejects with 805 when nobody answers in time. */
export function connectWebSocket(url: string, options: ConnectWebSocketOptions = {}): Promise<FrameConnection> {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) {
    return Promise.reject(new FleetError(ErrorCode.INTERNAL_ERROR, 'no WebSocket implementation here: pass { WebSocket } from the "ws" package'));
  }
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url, FLEET_WS_PROTOCOL);
    } catch (e) {
      reject(asFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `cannot open ${url}`));
      return;
    }
    // Attach the frame handlers before "open", so no message can slip past them.
    const conn = new WebSocketFrameConnection(socket, options);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.close();
      reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `connect to ${url} timed out`));
    }, options.timeoutMs ?? 5_000);
    socket.addEventListener("open", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(conn);
    });
    socket.addEventListener("close", (event: { code?: number }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `cannot reach hub at ${url} (WebSocket closed, code ${event.code ?? "?"})`));
    });
  });
}
