// An in-memory duplex link: two FrameConnections moving Packet bytes, with fault hooks
// (drop, duplicate, reorder) for tests. Browser-safe; delivery is asynchronous (a
// microtask) by default, or manual via flush() when a test wants full control.
import { MAX_FRAME_BYTES } from "../codec/frame.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { FrameConnection } from "./listener.js";

export type LinkSide = "a" | "b";

export interface MemoryLinkOptions {
  /** Deliver on a microtask (default true); false: only flush() delivers. */
  auto?: boolean;
  /** Largest body accepted (703 above it), as on the stream transports. */
  maxFrameBytes?: number;
  /** Return true to lose this body. */
  drop?: (body: Uint8Array, from: LinkSide) => boolean;
  /** Return true to deliver this body twice. */
  duplicate?: (body: Uint8Array, from: LinkSide) => boolean;
  /** Reorders the queue in place just before a flush delivers it. */
  reorder?: (queue: { body: Uint8Array; from: LinkSide }[]) => void;
}

class MemoryEndpoint implements FrameConnection {
  readonly bufferedAmount = 0;
  private frameHandlers: ((body: Uint8Array) => void)[] = [];
  private closeHandlers: (() => void)[] = [];
  closed = false;

  constructor(
    readonly remote: string,
    private readonly link: MemoryLink,
    private readonly side: LinkSide,
  ) {}

  send(body: Uint8Array): void {
    if (this.closed) return;
    this.link.enqueue(body, this.side);
  }

  close(errorBody?: Uint8Array): void {
    if (this.closed) return;
    if (errorBody) this.link.enqueue(errorBody, this.side);
    this.link.close();
  }

  onFrame(handler: (body: Uint8Array) => void): void {
    this.frameHandlers.push(handler);
  }

  onError(): void {
    // Memory links carry whole bodies: there is no framing to violate.
  }

  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }

  onDrain(): void {
    // Never backlogged.
  }

  deliver(body: Uint8Array): void {
    for (const h of this.frameHandlers) h(body);
  }

  shut(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h();
  }
}

export class MemoryLink {
  readonly a: FrameConnection;
  readonly b: FrameConnection;
  private readonly queue: { body: Uint8Array; from: LinkSide }[] = [];
  private scheduled = false;
  private closing = false;
  /** Bodies delivered, dropped and duplicated so far (for assertions). */
  readonly stats = { delivered: 0, dropped: 0, duplicated: 0 };

  constructor(private readonly opts: MemoryLinkOptions = {}) {
    this.a = new MemoryEndpoint("memory://b", this, "a");
    this.b = new MemoryEndpoint("memory://a", this, "b");
  }

  get pending(): number {
    return this.queue.length;
  }

  enqueue(body: Uint8Array, from: LinkSide): void {
    if (this.closing) return;
    const max = this.opts.maxFrameBytes ?? MAX_FRAME_BYTES;
    if (body.length === 0 || body.length > max) throw new FleetError(ErrorCode.WIRE_FRAME_TOO_LARGE, `frame body of ${body.length} bytes (1..${max})`);
    if (this.opts.drop?.(body, from)) {
      this.stats.dropped++;
      return;
    }
    const copy = body.slice(); // the sender may reuse its buffer
    this.queue.push({ body: copy, from });
    if (this.opts.duplicate?.(body, from)) {
      this.stats.duplicated++;
      this.queue.push({ body: copy, from });
    }
    if (this.opts.auto !== false && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Delivers everything queued (including what handlers send meanwhile, bounded); returns the count. */
  flush(limit = 100_000): number {
    let n = 0;
    while (this.queue.length && n < limit) {
      this.opts.reorder?.(this.queue);
      const { body, from } = this.queue.shift()!;
      const to = (from === "a" ? this.b : this.a) as MemoryEndpoint;
      if (to.closed) continue;
      to.deliver(body);
      this.stats.delivered++;
      n++;
    }
    if (this.closing && !this.queue.length) this.shutBoth();
    return n;
  }

  /** Closes both ends once what is already queued (e.g. a last error frame) has been delivered. */
  close(): void {
    this.closing = true;
    if (this.opts.auto === false) this.flush();
    else if (!this.scheduled) this.shutBoth();
  }

  private shutBoth(): void {
    (this.a as MemoryEndpoint).shut();
    (this.b as MemoryEndpoint).shut();
  }
}

/** Two connected FrameConnections (and the link, for faults and flush()). */
export function memoryPair(opts?: MemoryLinkOptions): [FrameConnection, FrameConnection, MemoryLink] {
  const link = new MemoryLink(opts);
  return [link.a, link.b, link];
}
