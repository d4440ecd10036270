// The keep-protocol bridge (spec/bridges/keep.md): a TCP listener speaking keep's frames and
// Packets, so keep clients connect, send, discover and receive as against keep's own server,
// while the bridge applies what keep's server does not: a name is bound to the first key
// that verified for it, replays of (pk, id) are dropped, and every keep name is a Fleet
// agent ("keep:<name>") reachable from the fleet and able to reach it.
import { createServer, type Server } from "node:net";
import { systemClock, type Clock, type TimerId } from "../../clock.js";
import { errorBody } from "../../client/bodies.js";
import { parseRecipient } from "../../client/address.js";
import { toHex } from "../../crypto/index.js";
import { ErrorCode } from "../../errors.js";
import { Deduper } from "../../protocol/dedupe.js";
import { MessageType, type Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { BridgeKeys } from "../shared/bridge-keys.js";
import { FirstKeyBindings } from "../shared/first-key.js";
import { ProxyPool, type FleetConnector, type FleetLink } from "../shared/fleet-link.js";
import { KeepPeerConnection } from "./connection.js";
import { discoveryBody, KeepStats } from "./discovery.js";
import { draftFromKeep, fleetNameOf, isBindableKeepName, keepBodyOf, KEEP_NAME_PREFIX, packetFromFleet } from "./fleet-side.js";
import { keepPacket, KEEP_TYP_HEARTBEAT, KEEP_TYP_REPLY, signKeepPacket, verifyKeepPacket, type KeepPacket } from "./packet.js";

export interface KeepBridgeOptions {
  /** How the bridge reaches the fleet (hubConnector / natsConnector). */
  connect: FleetConnector;
  /** Keys the bridge holds for the names it presents (BridgeKeys.fromFile in production). */
  keys?: BridgeKeys;
  host?: string;
  /** keep listener port (0 = ephemeral; keep's default is 9009). */
  port?: number;
  /** Where first-key bindings of keep names persist (JSON, 0600); in memory when absent. */
  bindingsFile?: string;
  /** The bridge's own Fleet agent (registry questions); default "keep-bridge". */
  controlAgent?: string;
  /** typ-2 heartbeat to every bound connection (default 60 s, as keep's server). */
  heartbeatMs?: number;
  /** Replay window for (pk, id) (default 600 s) and its size (default 100,000; full = drop new packets). */
  replayWindowMs?: number;
  replayEntries?: number;
  maxNames?: number;
  maxProxies?: number;
  clock?: Clock;
  log?: (line: string) => void;
}

/** Why a verified packet was dropped (counted; nothing is sent to the keep client). */
export type KeepDropReason = "unsigned" | "bad-signature" | "replay" | "name-taken" | "name-invalid" | "fleet-name" | "overload";

export class KeepBridge {
  readonly stats = new KeepStats();
  readonly drops = new Map<KeepDropReason, number>();
  private readonly clock: Clock;
  private readonly keys: BridgeKeys;
  private readonly bindings: FirstKeyBindings;
  private readonly replay: Deduper;
  private readonly names = new Map<string, KeepPeerConnection>();
  private readonly conns = new Set<KeepPeerConnection>();
  private readonly proxies: ProxyPool;
  private readonly startedAt: number;
  private server?: Server;
  private heartbeat?: TimerId;
  private control!: FleetLink;
  port = 0;

  constructor(private readonly o: KeepBridgeOptions) {
    this.clock = o.clock ?? systemClock;
    this.keys = o.keys ?? BridgeKeys.ephemeral();
    this.bindings = new FirstKeyBindings({ file: o.bindingsFile, maxNames: o.maxNames });
    this.replay = new Deduper({ clock: this.clock, windowMs: o.replayWindowMs ?? 600_000, maxEntries: o.replayEntries ?? 100_000 });
    this.startedAt = this.clock.now();
    this.proxies = new ProxyPool({
      connect: o.connect,
      identityFor: (name) => this.keys.identity("keep-proxy", fleetNameOf(name)),
      attach: (name, link) => link.onMessage((env) => this.fromFleet(name, link, env)),
      maxProxies: o.maxProxies,
    });
  }

  get controlAgent(): string {
    return this.o.controlAgent ?? "keep-bridge";
  }

  async start(): Promise<this> {
    this.control = await this.o.connect(this.keys.identity("keep-control", this.controlAgent));
    const server = createServer((socket) => {
      const conn = new KeepPeerConnection(socket, (c, p, raw) => this.handle(c, p, raw), (c) => this.closed(c));
      this.conns.add(conn);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    this.armHeartbeat();
    return this;
  }

  /** keep names bound to a live connection now. */
  boundNames(): string[] {
    return [...this.names.keys()];
  }

  private drop(reason: KeepDropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private reply(conn: KeepPeerConnection, req: KeepPacket, body: string): void {
    conn.send(signKeepPacket(keepPacket({ typ: KEEP_TYP_REPLY, id: req.id, src: "server", body }), this.keys.identity("keep-control", this.controlAgent)));
  }

  private async handle(conn: KeepPeerConnection, p: KeepPacket, raw: Uint8Array): Promise<void> {
    if (!p.sig.length && !p.pk.length) return this.drop("unsigned");
    if (!verifyKeepPacket(p)) return this.drop("bad-signature");
    // keep ids are fresh UUIDv4s; a packet without one is keyed by its (deterministic) signature.
    const replayKey = `${toHex(p.pk)}\u0000${p.id || toHex(p.sig)}`;
    if (this.replay.lookup(replayKey)) return this.drop("replay");
    try {
      this.replay.remember(replayKey);
    } catch {
      return this.drop("overload");
    }
    if (p.src && !(await this.bind(conn, p))) return;
    this.stats.countVerified(p.src, p.scar.length > 0);
    await this.route(conn, p, raw);
  }

  /** Binds p.src to conn; false (dropped) when the name is invalid, a Fleet agent's, or another key's. */
  private async bind(conn: KeepPeerConnection, p: KeepPacket): Promise<boolean> {
    const name = p.src;
    if (!isBindableKeepName(name)) {
      this.drop("name-invalid");
      return false;
    }
    if (!this.bindings.keyOf(name)) {
      // A keep client may not take the name of an agent the fleet already knows.
      let taken = true;
      try {
        taken = (await this.control.queryRegistry({ agentId: name })).agents.some((a) => a.agentId === name);
      } catch {
        // fleet unreachable: refuse rather than bind blind
      }
      if (taken) {
        this.drop("fleet-name");
        return false;
      }
    }
    try {
      this.bindings.bind(name, p.pk);
    } catch (e) {
      this.drop((e as { code?: number }).code === ErrorCode.SECURITY_KEY_MISMATCH ? "name-taken" : "overload");
      return false;
    }
    if (conn.name !== name) {
      this.unbind(conn);
      const prior = this.names.get(name);
      if (prior && prior !== conn) prior.name = "";
      this.names.set(name, conn);
      conn.name = name;
    }
    // The proxy "keep:<name>" receives the fleet's messages for this keep client.
    this.proxies.get(name).catch((e) => this.o.log?.(`keep: fleet connection for ${name} failed: ${(e as Error).message}`));
    return true;
  }

  private unbind(conn: KeepPeerConnection): void {
    const name = conn.name;
    if (!name) return;
    conn.name = "";
    if (this.names.get(name) !== conn) return;
    this.names.delete(name);
    void this.proxies.release(name);
  }

  private closed(conn: KeepPeerConnection): void {
    this.conns.delete(conn);
    this.unbind(conn);
  }

  private async route(conn: KeepPeerConnection, p: KeepPacket, raw: Uint8Array): Promise<void> {
    const dst = p.dst;
    if (dst === "server" || dst === "") return this.reply(conn, p, "done");
    if (dst.startsWith("discover:")) {
      const query = dst.slice("discover:".length);
      let fleetAgents: string[] = [];
      if (query === "agents" || query === "info") {
        try {
          const online = await this.control.queryRegistry({ onlineOnly: true });
          fleetAgents = online.agents.map((a) => a.agentId).filter((a) => !a.startsWith(KEEP_NAME_PREFIX) && a !== this.controlAgent);
        } catch {
          // fleet unreachable: keep names only
        }
      }
      return this.reply(conn, p, discoveryBody(query, { startedAt: this.startedAt, now: this.clock.now(), keepNames: this.boundNames(), fleetAgents, stats: this.stats }));
    }
    const keepDst = dst.startsWith(KEEP_NAME_PREFIX) ? dst.slice(KEEP_NAME_PREFIX.length) : dst;
    const target = this.names.get(keepDst);
    if (target) {
      // Forwarded exactly as received: all ten fields, the original sig and pk.
      if (!target.sendRaw(raw)) {
        this.unbind(target);
        this.reply(conn, p, "error:delivery_failed");
      }
      return;
    }
    const refusal = await this.toFleet(p, raw);
    if (refusal) this.reply(conn, p, refusal);
  }

  /** Sends a keep packet to the Fleet recipient named by dst; the keep error text when there is none or it refused. */
  private async toFleet(p: KeepPacket, raw: Uint8Array): Promise<string | undefined> {
    const offline = "error:offline";
    let to;
    try {
      to = parseRecipient(p.dst);
    } catch {
      return offline;
    }
    if (to.target.case === "hub" || to.target.case === "discovery" || !p.src) return offline;
    try {
      if (to.target.case === "agent") {
        const name = to.target.value;
        const known = (await this.control.queryRegistry({ agentId: name })).agents.some((a) => a.agentId === name);
        if (!known) return offline;
      }
      const link = await this.proxies.get(p.src);
      await link.send(draftFromKeep(p, raw, p.dst));
      return undefined;
    } catch (e) {
      this.o.log?.(`keep: ${p.src} -> ${p.dst} refused: ${(e as Error).message}`);
      return "error:delivery_failed";
    }
  }

  /** A Fleet message for the keep client `name` (arrived on its proxy). */
  private fromFleet(name: string, link: FleetLink, env: Envelope): void {
    const refuse = (code: ErrorCode, why: string) => {
      if (env.type === MessageType.ERROR || env.type === MessageType.STATUS) return;
      void link.send({ to: env.sender, type: MessageType.ERROR, inReplyTo: env.id, body: errorBody(code, why, { messageId: env.id }) }).catch(() => {});
    };
    const body = keepBodyOf(env);
    if (body === undefined) return refuse(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, "keep clients receive text or JSON only");
    const conn = this.names.get(name);
    if (!conn) return refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `keep client ${name} is offline`);
    const packet = packetFromFleet(env, name, body, this.keys.identity("keep-sender", env.sender));
    if (!conn.send(packet)) refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `keep client ${name} could not take the message (over 65,536 bytes or not reading)`);
  }

  private armHeartbeat(): void {
    const ms = this.o.heartbeatMs ?? 60_000;
    this.heartbeat = this.clock.setTimer(() => {
      for (const conn of [...this.names.values()]) {
        if (!conn.send(keepPacket({ typ: KEEP_TYP_HEARTBEAT, src: "server" }))) this.unbind(conn);
      }
      this.armHeartbeat();
    }, ms);
  }

  async close(): Promise<void> {
    if (this.heartbeat !== undefined) this.clock.clearTimer(this.heartbeat);
    for (const c of this.conns) c.close();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.proxies.closeAll();
    await this.control?.close();
  }
}

/** Starts a keep bridge (listener + its Fleet connections). */
export function startKeepBridge(o: KeepBridgeOptions): Promise<KeepBridge> {
  return new KeepBridge(o).start();
}
