// An EnvelopeBatch (signed.proto: repeated bytes envelopes = 1) written one envelope at a
// time, straight from the encoder's buffer: one copy per envelope and no allocation per
// envelope, where encoding each envelope and then the batch would make two of each. The
// bytes equal encodeMessage(EnvelopeBatchSchema, { envelopes }) (tests and the crypto
// fixture's batch vector check it). The writer is reusable: reset() after each batch.
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { encodeEnvelopeWith } from "./binary.js";

const FIELD_ENVELOPES = 0x0a; // field 1, length-delimited

export class EnvelopeBatchWriter {
  private buf: Uint8Array;
  private end = 0;
  private firstStart = 0;
  private firstEnd = 0;
  /** Envelopes written since the last reset. */
  count = 0;

  constructor(private readonly initialBytes = 16 * 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** Size of the buffer the batch is written into. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Bytes of the batch so far. */
  get byteLength(): number {
    return this.end;
  }

  /**
   * Validates and encodes env into the batch unless the batch would then exceed maxBytes
   * (false: nothing added; an empty batch always takes it). Throws, adding nothing, as
   * encodeEnvelope does.
   */
  addEnvelope(env: Envelope, maxBytes = Infinity): boolean {
    return encodeEnvelopeWith(env, (bytes) => {
      if (this.count > 0 && this.end + bytes.length + 6 > maxBytes) return false;
      this.add(bytes);
      return true;
    });
  }

  /** Appends one envelope's exact bytes. */
  add(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n + 11);
    const b = this.buf;
    let at = this.end;
    b[at++] = FIELD_ENVELOPES;
    let v = n;
    while (v >= 0x80) {
      b[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[at++] = v;
    b.set(bytes, at);
    if (this.count === 0) {
      this.firstStart = at;
      this.firstEnd = at + n;
    }
    this.end = at + n;
    this.count++;
  }

  /** The EnvelopeBatch bytes: a view, valid until the next add or reset. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.end);
  }

  /** The only envelope's bytes when count is 1: a view, valid until the next add or reset. */
  only(): Uint8Array {
    return this.buf.subarray(this.firstStart, this.firstEnd);
  }

  /** Empties the batch; a buffer grown beyond keepBytes is given back. */
  reset(keepBytes = Infinity): void {
    this.end = 0;
    this.count = 0;
    if (this.buf.length > keepBytes) this.buf = new Uint8Array(this.initialBytes);
  }

  private ensure(extra: number): void {
    if (this.end + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.end + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
  }
}
