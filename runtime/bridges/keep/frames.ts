// keep's framing: a 4-byte unsigned big-endian length N, then N bytes of protobuf Packet.
// N = 0 or N > 65,536 is a protocol error (the connection is closed, nothing is answered).
import { ErrorCode, FleetError } from "../../errors.js";

export const KEEP_MAX_FRAME = 65_536;

/** The frame bytes (header + body) for one packet; 703 when the body is empty or over 65,536 bytes. */
export function keepFrame(body: Uint8Array): Buffer {
  if (body.length === 0 || body.length > KEEP_MAX_FRAME) throw new FleetError(ErrorCode.WIRE_FRAME_TOO_LARGE, `keep frame of ${body.length} bytes (1..${KEEP_MAX_FRAME})`);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** Splits a byte stream into frame bodies; throws 703 on a zero or oversize length. Holds at most one frame. */
export class KeepFrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Uint8Array[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Uint8Array[] = [];
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (n === 0 || n > KEEP_MAX_FRAME) throw new FleetError(ErrorCode.WIRE_FRAME_TOO_LARGE, `keep frame length ${n} (1..${KEEP_MAX_FRAME})`);
      if (this.buf.length < 4 + n) break;
      out.push(Uint8Array.prototype.slice.call(this.buf, 4, 4 + n));
      this.buf = this.buf.subarray(4 + n);
    }
    return out;
  }
}
