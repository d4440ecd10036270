// One keep client's TCP connection at the bridge: frames in (KeepFrameReader), packets
// handled strictly in order, frames out written whole (one write per frame, so frames
// never interleave). Bounded: at most MAX_PENDING packets wait for handling (more are
// dropped, silently, as keep drops bad packets) and at most MAX_UNSENT_BYTES wait in the
// socket (a write beyond it fails, which the bridge reports as `error:delivery_failed`).
import type { Socket } from "node:net";
import { KeepFrameReader, keepFrame } from "./frames.js";
import { decodeKeepPacket, encodeKeepPacket, type KeepPacket } from "./packet.js";

export const KEEP_MAX_PENDING = 64;
export const KEEP_MAX_UNSENT_BYTES = 1 << 20;

export class KeepPeerConnection {
  /** The keep name this connection is bound to now ("" before its first verified packet with a src). */
  name = "";
  private readonly reader = new KeepFrameReader();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  closed = false;
  dropped = 0;

  constructor(
    readonly socket: Socket,
    handle: (conn: KeepPeerConnection, packet: KeepPacket, raw: Uint8Array) => Promise<void>,
    onClose: (conn: KeepPeerConnection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      let bodies: Uint8Array[];
      let packets: KeepPacket[];
      try {
        bodies = this.reader.push(chunk);
        // A body that is not a Packet (or not UTF-8) closes the connection, as keep's server does.
        packets = bodies.map(decodeKeepPacket);
      } catch {
        socket.destroy();
        return;
      }
      packets.forEach((p, i) => {
        if (this.pending >= KEEP_MAX_PENDING) {
          this.dropped++;
          return;
        }
        this.pending++;
        this.chain = this.chain
          .then(() => (this.closed ? undefined : handle(this, p, bodies[i]!)))
          .catch(() => {})
          .finally(() => void this.pending--);
      });
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      this.closed = true;
      onClose(this);
    });
  }

  /** Writes one packet as one frame; false when it cannot be written (closed, too much unsent, oversize). */
  send(p: KeepPacket): boolean {
    return this.sendRaw(encodeKeepPacket(p));
  }

  sendRaw(body: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.socket.writableLength > KEEP_MAX_UNSENT_BYTES) return false;
    let frame: Buffer;
    try {
      frame = keepFrame(body);
    } catch {
      return false;
    }
    this.socket.write(frame);
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}
