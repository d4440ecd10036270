// messages(): every message a connection hands to onMessage, as a bounded async iterator.
// Shared by HubConnection and NatsFleetConnection so both behave the same.
import { ErrorCode, FleetError } from "../errors.js";
import { AsyncQueue } from "./async-queue.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";

export interface MessageMetaLike {
  verified: boolean;
}

/** One message from messages(): the envelope and what was verified about it. */
export interface ReceivedMessage {
  env: Envelope;
  meta: MessageMetaLike;
}

/** Messages each messages() iterator holds for a reader that has not taken them yet. */
export const MESSAGE_BUFFER_LIMIT = 1_024;

export interface MessagesOptions {
  /** Held for a reader that has not taken them yet (default MESSAGE_BUFFER_LIMIT). */
  limit?: number;
  /** Ends the iteration (done) when it fires. */
  signal?: AbortSignal;
}

/** The readers of one connection; end() them all when it closes. */
export class MessageReaders {
  private readonly readers = new Set<AsyncQueue<ReceivedMessage>>();
  private closed = false;

  /**
   * attach/detach: called when the first reader opens and when the last one ends, for a
   * binding that should hold messages back while nobody reads (NATS durable delivery waits
   * for a handler).
   */
  constructor(
    private readonly onOverflow: (e: FleetError) => void,
    private readonly hooks: { attach?: () => void; detach?: () => void } = {},
  ) {}

  open(options: MessagesOptions = {}): AsyncIterableIterator<ReceivedMessage> {
    const onAbort = () => void q.return();
    const q: AsyncQueue<ReceivedMessage> = new AsyncQueue({
      limit: options.limit ?? MESSAGE_BUFFER_LIMIT,
      overflow: "error",
      onEnd: () => {
        if (this.readers.delete(q) && this.readers.size === 0) this.hooks.detach?.();
        options.signal?.removeEventListener("abort", onAbort);
      },
    });
    if (this.closed || options.signal?.aborted) q.end();
    else {
      this.readers.add(q);
      if (this.readers.size === 1) this.hooks.attach?.();
      options.signal?.addEventListener("abort", onAbort, { once: true });
    }
    return q;
  }

  push(env: Envelope, meta: MessageMetaLike): void {
    for (const q of this.readers) {
      if (!q.push({ env, meta })) {
        // The reader fell its limit behind: its iterator yields what it holds, then throws 804.
        this.onOverflow(new FleetError(ErrorCode.DELIVERY_BUSY, `messages() reader too slow: ${env.id} was not queued for it`));
        q.end();
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const q of [...this.readers]) q.end();
  }
}
