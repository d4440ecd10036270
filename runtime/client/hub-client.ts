// connectHub: open a transport (TCP in Node, WebSocket when a ws:// url is given), run
// the handshake (HandshakeInitiator) and return a FleetConnection. Browser-safe: TCP is
// loaded only when asked for, through "#transport-tcp", which package.json "imports" resolves
// to transport/tcp.ts on Node and to browser/no-tcp.ts everywhere else, so no bundler ever
// sees node:net (in this checkout, tsconfig "paths" and vitest.config.ts map it to the source).
import { create } from "@bufbuild/protobuf";
import { CapabilitySetSchema } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import type { HeartbeatParams } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { AgentRecordSchema, type AgentRole, RegistryDeltaSchema, RegistryEntrySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { PacketSchema, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { systemClock, type Clock } from "../clock.js";
import { decodePacket, encodePacket } from "../codec/index.js";
import { parseEnvelope as parseEnvelopeLoose } from "../crypto/envelope-bytes.js";
import { PinnedKeys, type Identity, type KeyResolver, type ReplayGuard, type ReplayStore } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { offerWithGrants } from "../protocol/capability-grants.js";
import { signRegistryEntry } from "../protocol/registry-owner.js";
import type { Deduper } from "../protocol/dedupe.js";
import { type EstablishedSession, HandshakeInitiator, type HeldTicket } from "../protocol/handshake.js";
import type { FrameConnection } from "../transport/listener.js";
import { errorFromBody } from "./bodies.js";
import { withSignal } from "./call-options.js";
import { HubConnection, type Relink } from "./connection.js";
import { GroupCheck, type GroupCheckOptions } from "./group-check.js";
import { replayGuardFor } from "./replay.js";
import { type ReconnectOptions, StatusBoard, type StatusEvent } from "./status.js";

export const DEFAULT_HUB_PORT = 7420;

export interface ConnectHubOptions {
  host?: string;
  port: number;
  identity: Identity;
  keys?: KeyResolver;
  /** ws:// or wss:// URL: connect over WebSocket (browsers) instead of TCP. */
  url?: string;
  clock?: Clock;
  /** Capabilities offered, as "name" or "name@version". */
  capabilities?: string[];
  /**
   * Grants ("fleet1." text) for granted capabilities (spec/capabilities.md): each is attached to
   * the offer of the capability its audience names (offered even when not in `capabilities`).
   */
  grants?: string[];
  /** Groups to join and role to announce (sent to the hub registry after the handshake). */
  groups?: string[];
  role?: AgentRole;
  handshakeTimeoutMs?: number;
  receiptTimeoutMs?: number;
  /** Attempts per acknowledged send (default 3; the same id each time). */
  receiptAttempts?: number;
  /** Receiver-side dedupe shared across reconnections (exactly-once across hub restarts). */
  dedupe?: Deduper;
  /** Replay rules on everything received (default: a guard shared per identity; see client/replay.ts). */
  replay?: ReplayGuard;
  /** A durable store for the seen ids (runtime/node/replay-store.ts): replay protection across restarts. */
  replayStore?: ReplayStore;
  /** Admission token for hubs that require one (`fleet hub --require-token`). */
  admissionToken?: string;
  /** Heartbeat timing to propose (the agreement is capped: spec/handshake.md). */
  heartbeat?: HeartbeatParams;
  /** TLS to the hub's TCP listener: the CA to trust (PEM) or a certificate pin (spec/hub.md "TLS"). */
  tls?: import("../transport/tcp.js").TlsClientOptions;
  /** An already open carrier (tests, custom transports). Such a connection cannot redial: it does not reconnect. */
  conn?: FrameConnection;
  /**
   * Reconnection after a lost link (default on: jittered exponential backoff, 100 ms up to
   * 1 s, unlimited attempts, 1,024 sends held meanwhile). false: a lost link closes it.
   */
  reconnect?: ReconnectOptions | false;
  /** Aborts the first connection attempt (903); it does not close an established connection. */
  signal?: AbortSignal;
  /**
   * The recipient's own group check (default on): a group:<name> message of a group with a chain
   * reaches the application only when this connection's fold of the chain allows its sender
   * (client/group-check.ts; refused ones go to onDrop with 603). false turns it off; options
   * tune it (strict: refuse groups without a chain too; refreshMs: 1,000; maxGroups: 1,024).
   */
  groupCheck?: false | GroupCheckOptions;
  /** Status changes from the first "connecting" on (the connection's onStatus sees them from "connected"). */
  onStatus?: (e: StatusEvent) => void;
  /**
   * Session resumption (default on; spec/handshake.md "Resumption"): keep the ticket the hub
   * issues (in memory, one per connection) and reconnect with it, authenticated by HMACs instead
   * of Ed25519 on both sides. A refused ticket is dropped and the full handshake runs at once.
   */
  resume?: boolean;
}

/** The one ticket a connection holds (replaced at every handshake, dropped when refused). */
interface TicketBox {
  current?: HeldTicket;
}

// The TCP carrier's module, imported once: every redial of every connection reuses it (a
// dynamic import() resolves its specifier again on each call, which under a loader hook
// such as tsx's is a round trip to the hook's thread: a storm of reconnections paid it per attempt).
let tcpModule: Promise<typeof import("#transport-tcp")> | undefined;

async function openCarrier(o: ConnectHubOptions): Promise<FrameConnection> {
  if (o.conn) return o.conn;
  if (o.url) {
    const { connectWebSocket } = await import("../transport/websocket.js");
    return connectWebSocket(o.url);
  }
  tcpModule ??= import("#transport-tcp");
  const tcp = await tcpModule.catch((e: unknown) => {
    tcpModule = undefined;
    throw e;
  });
  return tcp.connectTcp(o.host ?? "127.0.0.1", o.port, { tls: o.tls });
}

/** Runs the initiator's side of the handshake over conn (resuming with `resume` when given). */
export function handshake(conn: FrameConnection, o: ConnectHubOptions, clock: Clock, resume?: HeldTicket): Promise<EstablishedSession> {
  const initiator = new HandshakeInitiator({
    resume,
    identity: o.identity,
    keys: o.keys ?? new PinnedKeys(),
    clock,
    timeoutMs: o.handshakeTimeoutMs,
    admissionToken: o.admissionToken,
    heartbeat: o.heartbeat,
    capabilities: create(CapabilitySetSchema, { offered: offerWithGrants(o.capabilities, o.grants) }),
  });
  const send = (signed: SignedEnvelope) =>
    conn.send(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } })));
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: FleetError, est?: EstablishedSession) => {
      if (done) return;
      done = true;
      initiator.cancel();
      if (err) {
        conn.close();
        reject(err);
      } else resolve(est!);
    };
    initiator.onTimeout((step) => {
      if (step.send) send(step.send);
      if (step.error) finish(step.error);
    });
    conn.onClose(() => finish(new FleetError(ErrorCode.HANDSHAKE_REJECTED, "hub closed the connection during the handshake")));
    conn.onError((e) => finish(e));
    // Async crypto: WebCrypto Ed25519 and X25519 in browsers that have them, node:crypto on Node.
    conn.onFrame((body) => {
      if (done) return;
      let signed: SignedEnvelope;
      try {
        const packet = decodePacket(body);
        if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, "session message before the handshake completed");
        signed = packet.kind.value;
      } catch (e) {
        finish(asFleetError(e, ErrorCode.HANDSHAKE_AUTH_FAILED, "handshake"));
        return;
      }
      initiator
        .receiveAsync(signed)
        .then((step) => {
          if (done) return;
          if (step.send) send(step.send);
          if (step.error) finish(step.error);
          else if (step.established) finish(undefined, step.established);
          else if (!step.send) {
            // An unsolicited error frame from the hub (e.g. 607 for a name bound to another key).
            const err = errorFrom(signed.payload, signed.payloadType);
            if (err) finish(err);
          }
        })
        .catch((e) => finish(asFleetError(e, ErrorCode.HANDSHAKE_AUTH_FAILED, "handshake")));
    });
    initiator
      .startAsync()
      .then((hello) => !done && send(hello))
      .catch((e) => finish(asFleetError(e, ErrorCode.HANDSHAKE_AUTH_FAILED, "handshake")));
  });
}

function errorFrom(payload: Uint8Array, payloadType: string): FleetError | undefined {
  try {
    // Read only to explain a refusal; nothing is acted on but the message text.
    const env = parseEnvelopeLoose(payload, payloadType);
    return env.body?.kind ? errorFromBody(env.body.kind) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a carrier and runs the handshake: one link. A fired signal closes the carrier (903).
 * With a ticket, the handshake resumes; a resumption the hub refuses (a new ticket key, an
 * expired ticket, a rotated key) drops the ticket and runs the full handshake at once.
 */
async function dial(o: ConnectHubOptions, clock: Clock, signal?: AbortSignal, tickets?: TicketBox): Promise<Relink> {
  const held = tickets?.current && tickets.current.expiresAtMs > clock.now() ? tickets.current : undefined;
  if (tickets && !held) tickets.current = undefined;
  try {
    return await link(o, clock, signal, tickets, held);
  } catch (e) {
    // Only a handshake failure (1xx) means the ticket was refused: an unreachable hub keeps it.
    if (!held || signal?.aborted || !(e instanceof FleetError) || e.code < 100 || e.code >= 200) throw e;
    tickets!.current = undefined;
    return link(o, clock, signal, tickets, undefined);
  }
}

async function link(o: ConnectHubOptions, clock: Clock, signal: AbortSignal | undefined, tickets: TicketBox | undefined, held: HeldTicket | undefined): Promise<Relink> {
  const opening = openCarrier(o);
  // Aborted while the carrier opens: close it as soon as it is open.
  const conn = await withSignal(opening, signal, "connect", () => void opening.then((c) => c.close(), () => {}));
  const est = await withSignal(handshake(conn, o, clock, held), signal, "connect", () => conn.close());
  if (tickets) tickets.current = est.ticket;
  return { conn, session: est.session, peer: est.peer, peerPublicKey: est.peerPublicKey, heartbeatMs: est.heartbeat.intervalMs || 5_000, version: est.version, resumed: est.resumed === true };
}

export async function connectHub(o: ConnectHubOptions): Promise<HubConnection> {
  const clock = o.clock ?? systemClock;
  const board = new StatusBoard("connecting");
  if (o.onStatus) board.on(o.onStatus);
  o.onStatus?.(board.event);
  // Resumption tickets are kept only by connections that can redial.
  const tickets: TicketBox | undefined = o.resume === false || o.conn ? undefined : {};
  let first: Relink;
  try {
    first = await dial(o, clock, o.signal, tickets);
  } catch (e) {
    board.set("closed", 0, e instanceof Error ? e : undefined);
    throw e;
  }
  const { conn } = first;
  const est = { session: first.session, peer: first.peer, peerPublicKey: first.peerPublicKey, heartbeat: { intervalMs: first.heartbeatMs }, version: first.version ?? "" };
  // The handshake consumed the frame handler; the connection takes over from here.
  const c = new HubConnection({
    board,
    // A caller's own carrier cannot be opened again; every other link can.
    redial: o.conn ? undefined : () => dial(o, clock, undefined, tickets),
    reconnect: o.reconnect,
    onReconnected: (c) => announce(c, o, clock, est.version),
    identity: o.identity,
    conn,
    session: est.session,
    peer: est.peer,
    peerPublicKey: est.peerPublicKey,
    heartbeatMs: est.heartbeat.intervalMs || 5_000,
    keys: o.keys,
    clock,
    receiptTimeoutMs: o.receiptTimeoutMs,
    receiptAttempts: o.receiptAttempts,
    dedupe: o.dedupe,
    replay: o.replay ?? (o.replayStore ? replayGuardFor(o.identity, clock, o.replayStore) : undefined),
    groupCheck: o.groupCheck === false ? undefined : new GroupCheck(clock, o.groupCheck),
  });
  await announce(c, o, clock, est.version);
  return c;
}

/** Groups, role and capabilities to the hub's registry (after the handshake, and again after each reconnection). */
async function announce(c: HubConnection, o: ConnectHubOptions, clock: Clock, version: string): Promise<void> {
  if (o.groups?.length || o.role) {
    const record = create(AgentRecordSchema, {
      agentId: o.identity.agent,
      keyId: o.identity.keyId,
      publicKey: o.identity.publicKey,
      role: o.role ?? 0,
      groups: o.groups ?? [],
      capabilities: offerWithGrants(o.capabilities, o.grants),
      versions: [version],
    });
    // The hub re-versions it with its own clock; this version only makes the entry well-formed.
    // Signed by its owner (us): the hub takes registry writes only from their owners.
    const entry = create(RegistryEntrySchema, { key: `agent/${o.identity.agent}`, version: { wallMs: BigInt(clock.now()), logical: 0, node: o.identity.agent }, record: { case: "agent", value: record }, causal: [{ node: o.identity.agent, count: 1n }] });
    signRegistryEntry(entry, o.identity);
    await c.send({ to: "fleet:hub", type: MessageType.COMMAND, sign: false, requiresAck: true, body: { case: "registryDelta", value: create(RegistryDeltaSchema, { node: o.identity.agent, entries: [entry] }) } });
  }
}
