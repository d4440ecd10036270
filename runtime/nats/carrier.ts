// Moves Packets over NATS: core publish/subscribe for live traffic, JetStream for durable
// traffic (acked publish retried with the same Nats-Msg-Id until stored, so a server restart
// neither loses nor duplicates it; durable per-agent consumers with explicit acks).
// Knows nothing about signatures: the connection layer verifies every Packet it is handed.
import { connect, type ConsumerMessages, type JsMsg, type Msg, type NatsConnection, type PubAck } from "nats";
import type { Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Identity } from "../crypto/identity.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { ensureAgentConsumer, ensureStreams, type DurableKind, type StreamPolicy } from "./jetstream.js";
import { identityAuthenticator } from "./nkey.js";
import { replyPrefix, STREAMS } from "./subjects.js";
import { fromWire, toWire, type WireOptions } from "./wire.js";

export interface CarrierOptions {
  /** nats://host:port (one or several). */
  servers: string | string[];
  /** Client name shown by the server's monitoring. */
  name?: string;
  streams?: StreamPolicy;
  /** Give up on a durable publish after this long without a PubAck (default 30 s): 808. */
  durablePublishTimeoutMs?: number;
  /** Skip creating/updating streams (when an operator manages them). */
  manageStreams?: boolean;
  /**
   * Log in as this identity's nkey (spec/nats-auth.md): its key answers the server's nonce,
   * answers come back under the agent's own reply prefix, and the operator's streams and
   * durable consumers are used, never created or changed. "auto" offers the nkey too but
   * manages streams when the server asks for no authentication.
   */
  auth?: { mode: "nkey" | "auto"; identity: () => Identity };
}

/**
 * Called with every Packet that arrived; the raw NATS message is there for its headers.
 * A durable handler may return { retryInMs } to leave the message stored and see it again later.
 */
export type PacketHandler = (packet: Packet, msg: Msg | JsMsg) => void | DurableVerdict | Promise<void | DurableVerdict>;
export interface DurableVerdict {
  retryInMs: number;
}
/** Called for a message that could not be decoded or was refused by the handler. */
export type RejectHandler = (error: FleetError, subject: string) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NatsCarrier {
  private readonly consumers = new Set<ConsumerMessages>();

  private constructor(
    readonly nc: NatsConnection,
    private readonly opts: CarrierOptions & { manageConsumers?: boolean },
  ) {}

  static async connect(opts: CarrierOptions): Promise<NatsCarrier> {
    let nc: NatsConnection;
    try {
      const auth = opts.auth ? { authenticator: identityAuthenticator(opts.auth.identity), inboxPrefix: await replyPrefix(opts.auth.identity().agent) } : {};
      nc = await connect({
        servers: opts.servers,
        name: opts.name,
        // Keep reconnecting forever at a short interval: a restarted server comes back on the same port.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        waitOnFirstConnect: false,
        ...auth,
      });
    } catch (e) {
      // nats-server refused the login (no such nkey, bad signature): 603, not "unreachable".
      if ((e as { code?: string })?.code === "AUTHORIZATION_VIOLATION") throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `nats-server at ${String(opts.servers)} refused the login: ${(e as Error).message}`, { cause: e });
      throw asFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `connect ${String(opts.servers)}`);
    }
    // With an nkey login the operator owns streams and consumers (unless "auto" finds an open server).
    const operated = opts.auth?.mode === "nkey" || (opts.auth?.mode === "auto" && nc.info?.auth_required === true);
    const carrier = new NatsCarrier(nc, { ...opts, ...(operated ? { manageStreams: false, manageConsumers: false } : {}) });
    if (carrier.opts.manageStreams !== false) await ensureStreams(await nc.jetstreamManager(), opts.streams);
    return carrier;
  }

  /** Fire-and-forget publish (core NATS): live traffic, at most once. */
  publish(subject: string, packet: Packet, wire: WireOptions = {}): void {
    const w = toWire(packet, wire);
    this.nc.publish(subject, w.data, { headers: w.headers });
  }

  /** Publishes raw, already-encoded bytes (the hot path of session traffic). */
  publishBytes(subject: string, data: Uint8Array, headers: ReturnType<typeof toWire>["headers"]): void {
    this.nc.publish(subject, data, { headers });
  }

  /**
   * Stores a Packet in JetStream and resolves with the PubAck. Retries with the same
   * msgId across disconnects until stored (JetStream dedupes), else 808 after the timeout.
   */
  async publishDurable(subject: string, packet: Packet, msgId: string, wire: Omit<WireOptions, "msgId"> = {}): Promise<PubAck> {
    const w = toWire(packet, { ...wire, msgId });
    const js = this.nc.jetstream();
    const deadline = Date.now() + (this.opts.durablePublishTimeoutMs ?? 30_000);
    let lastError: unknown;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      if (this.nc.isClosed()) break;
      try {
        return await js.publish(subject, w.data, { headers: w.headers, msgID: msgId, timeout: 2_000 });
      } catch (e) {
        lastError = e;
        // 503 "no responders" while JetStream restarts, timeouts while reconnecting: wait and retry.
        await sleep(Math.min(100 * 2 ** attempt, 1_000));
      }
    }
    throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `could not store message ${msgId} in JetStream: ${(lastError as Error)?.message ?? "connection closed"}`, { cause: lastError });
  }

  /** Core subscription delivering decoded Packets; undecodable messages go to onReject. */
  subscribe(subject: string, handler: PacketHandler, onReject: RejectHandler, queue?: string): () => void {
    const sub = this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) return onReject(asFleetError(err, ErrorCode.INTERNAL_ERROR, "subscription"), subject);
        let packet: Packet;
        try {
          packet = fromWire(msg.data, msg.headers);
        } catch (e) {
          return onReject(asFleetError(e, ErrorCode.WIRE_MALFORMED, msg.subject), msg.subject);
        }
        try {
          const done = handler(packet, msg);
          if (done instanceof Promise) done.catch((e) => onReject(asFleetError(e, ErrorCode.INTERNAL_ERROR, msg.subject), msg.subject));
        } catch (e) {
          onReject(asFleetError(e, ErrorCode.INTERNAL_ERROR, msg.subject), msg.subject);
        }
      },
    });
    return () => sub.unsubscribe();
  }

  /**
   * Consumes the agent's durable inbox or bottle consumer in order. A message is acked
   * after the handler returns; a FleetError from decoding or the handler terminates it
   * (bad input is never redelivered) and goes to onReject; any other error naks it for a retry.
   */
  async consumeDurable(kind: DurableKind, agent: string, handler: PacketHandler, onReject: RejectHandler): Promise<() => Promise<void>> {
    const jsm = await this.nc.jetstreamManager();
    const name = await ensureAgentConsumer(jsm, kind, agent, this.opts.streams, this.opts.manageConsumers !== false);
    const consumer = await this.nc.jetstream().consumers.get(kind === "inbox" ? STREAMS.inbox.name : STREAMS.bottles.name, name);
    const messages = await consumer.consume({ max_messages: 256 });
    this.consumers.add(messages);
    const loop = (async () => {
      for await (const m of messages) {
        try {
          const verdict = await handler(fromWire(m.data, m.headers), m);
          if (verdict && typeof verdict === "object") m.nak(verdict.retryInMs);
          else m.ack();
        } catch (e) {
          if (e instanceof FleetError) {
            m.term();
            onReject(e, m.subject);
          } else {
            m.nak(500);
          }
        }
      }
    })();
    return async () => {
      this.consumers.delete(messages);
      await messages.close();
      await loop;
    };
  }

  /** Resolves once every buffered publish has reached the server. */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  async close(): Promise<void> {
    for (const c of this.consumers) await c.close();
    this.consumers.clear();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}
