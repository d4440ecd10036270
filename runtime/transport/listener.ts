// Frame carriers shared by every stream transport (TCP here, WebSocket in the browser
// binding): one frame body in, one frame body out, so the hub never knows which it has.
import type { FleetError } from "../errors.js";

/** One peer connection carrying whole frame bodies (each a serialized fleet.v1.Packet). */
export interface FrameConnection {
  /** Readable peer address for logs, e.g. "tcp://127.0.0.1:50312". */
  readonly remote: string;
  /** Bytes queued for the peer but not yet written (the backpressure signal). */
  readonly bufferedAmount: number;
  /**
   * Frames and queues one body; silently ignored after close. The carrier may hold the
   * body itself until it is written (TCP does): do not modify it after sending.
   */
  send(body: Uint8Array): void;
  /** Closes the connection, first sending errorBody as one last frame when given. */
  close(errorBody?: Uint8Array): void;
  /** Each complete frame body, in order. */
  onFrame(handler: (body: Uint8Array) => void): void;
  /**
   * A framing violation (703 too large, 704 bad magic, 702 truncated): reading has stopped,
   * and the owner decides what last frame to send before close(). Without a handler the
   * connection just closes.
   */
  onError(handler: (error: FleetError) => void): void;
  /** Called once when the connection is gone (either side closed, or the socket failed). */
  onClose(handler: () => void): void;
  /** Called when bufferedAmount has dropped back after a backlog. */
  onDrain(handler: () => void): void;
  /**
   * Changes the largest frame body accepted from the peer from now on (optional: carriers
   * without it keep the limit they were built with). The hub lowers it until the handshake.
   */
  setMaxFrameBytes?(max: number): void;
}

/** Accepts FrameConnections on one address. */
export interface FrameListener {
  /** e.g. "tcp://127.0.0.1:7420". */
  readonly url: string;
  readonly port: number;
  onConnection(handler: (conn: FrameConnection) => void): void;
  /** Stops accepting and closes every open connection. */
  close(): Promise<void>;
}
