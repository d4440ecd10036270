// The agent-swarm bridge (spec/bridges/swarm.md): an HTTPS endpoint speaking agent-swarm
// 0.1.0. The bridge is the master of swarms it maps onto Fleet groups: it issues EdDSA JWT
// invites, admits joiners (signature, expiry and use limit checked, the agent_id bound to
// its first key, all persisted), lists the group's Fleet agents as members (each with an
// endpoint under /fleet/<name> and a key the bridge holds), and relays signed messages:
// a POST to a Fleet agent's endpoint becomes a Fleet message from "swarm:<agent_id>"; a
// Fleet message to "swarm:<agent_id>" (or to the group) becomes a signed POST to the
// member's endpoint. Everything agent-swarm's server leaves unchecked is refused here.
import { randomUUID } from "node:crypto";
import { createServer, request as httpsRequest, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Envelope, MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { errorBody } from "../../client/bodies.js";
import { applicationValue } from "../../client/draft.js";
import { systemClock, type Clock } from "../../clock.js";
import { constantTimeEqual } from "../../crypto/index.js";
import { ErrorCode } from "../../errors.js";
import { Deduper } from "../../protocol/dedupe.js";
import { BridgeKeys } from "../shared/bridge-keys.js";
import { fleetAgents, ProxyPool, type FleetConnector, type FleetLink } from "../shared/fleet-link.js";
import { MAX_MEMBERS, MAX_SWARMS, MAX_TOKENS, SwarmState, type Member, type Swarm } from "./state.js";
import { checkInviteToken, issueInviteToken, parseSwarmTime, signSwarmMessage, stdBase64Key, SWARM_PROTOCOL_VERSION, swarmTime, tokenKey, verifySwarmMessage, type SwarmMessage } from "./wire.js";

export const SWARM_MESSAGE_MEDIA_TYPE = "application/vnd.agent-swarm.message+json";
export const SWARM_PREFIX = "swarm:";
export const MAX_BODY_BYTES = 256 * 1024;
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface SwarmBridgeOptions {
  connect: FleetConnector;
  /** PEM certificate and key the HTTPS endpoint serves. */
  cert: string | Buffer;
  key: string | Buffer;
  /** CAs trusted when POSTing to members' endpoints (default: the system store). */
  ca?: string | Buffer;
  host?: string;
  port?: number;
  /** Host name written into endpoints (default host). */
  publicHost?: string;
  /** Swarms to serve: name → Fleet group. */
  swarms: { name: string; group: string }[];
  keys?: BridgeKeys;
  stateFile?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

type Json = Record<string, unknown>;

export class SwarmBridge {
  readonly state: SwarmState;
  private readonly keys: BridgeKeys;
  private readonly clock: Clock;
  private readonly seen: Deduper;
  private readonly proxies: ProxyPool;
  private server?: Server;
  private control!: FleetLink;
  port = 0;

  constructor(private readonly o: SwarmBridgeOptions) {
    this.keys = o.keys ?? BridgeKeys.ephemeral();
    this.clock = o.clock ?? systemClock;
    this.state = new SwarmState(o.stateFile);
    this.seen = new Deduper({ clock: this.clock, windowMs: 24 * 3600_000, maxEntries: 100_000 });
    this.proxies = new ProxyPool({
      connect: o.connect,
      identityFor: (key) => this.keys.identity("swarm-proxy", SWARM_PREFIX + key.split("\u0000")[1]),
      extrasFor: (key) => ({ groups: [this.state.swarms[key.split("\u0000")[0]!]?.group ?? ""].filter(Boolean) }),
      attach: (key, link) => link.onMessage((env) => void this.fromFleet(key, link, env)),
    });
  }

  get base(): string {
    return `https://${this.o.publicHost ?? this.o.host ?? "127.0.0.1"}:${this.port}`;
  }
  get masterEndpoint(): string {
    return `${this.base}/swarm`;
  }
  fleetEndpoint(agent: string): string {
    return `${this.base}/fleet/${encodeURIComponent(agent)}`;
  }
  private masterKey(swarmId: string) {
    return this.keys.identity("swarm-master", swarmId);
  }
  private memberKey(fleetAgent: string) {
    return this.keys.identity("swarm-member", fleetAgent);
  }

  async start(): Promise<this> {
    this.control = await this.o.connect(this.keys.identity("swarm-control", "swarm-bridge"));
    for (const s of this.o.swarms) {
      if (this.state.byName(s.name)) continue;
      if (Object.keys(this.state.swarms).length >= MAX_SWARMS) throw new Error("too many swarms");
      const id = randomUUID();
      this.state.swarms[id] = { swarm_id: id, name: s.name, group: s.group, members: {}, uses: {} };
    }
    this.state.save();
    const server = createServer({ cert: this.o.cert, key: this.o.key }, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    for (const s of Object.values(this.state.swarms)) for (const m of Object.values(s.members)) void this.proxies.get(`${s.swarm_id}\u0000${m.agent_id}`).catch(() => {});
    return this;
  }

  swarmId(name: string): string | undefined {
    return this.state.byName(name)?.swarm_id;
  }

  /** An invite URL for a swarm: swarm://<id>@host:port?token=<JWT>. */
  invite(name: string, o: { expiresAt?: number; maxUses?: number } = {}): string {
    const s = this.state.byName(name);
    if (!s) throw new Error(`no swarm ${name}`);
    return swarmInvite({ keys: this.keys, swarmId: s.swarm_id, masterEndpoint: this.masterEndpoint, now: this.clock.now(), ...o });
  }

  // ---- HTTP ----

  private send(res: ServerResponse, status: number, body: Json): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private error(res: ServerResponse, status: number, code: string, message = code): void {
    this.send(res, status, { error: { code, message } });
  }

  private body(req: IncomingMessage): Promise<Json | undefined> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          resolve(undefined);
          req.destroy();
        } else chunks.push(c);
      });
      req.on("end", () => {
        try {
          const v = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
          resolve(v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      req.on("error", () => resolve(undefined));
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? "/", this.base).pathname;
      const m = /^\/(swarm|fleet\/([^/]+))\/(health|info|join|message)$/.exec(path);
      if (!m) return this.error(res, 404, "NOT_FOUND");
      const fleetAgent = m[2] ? decodeURIComponent(m[2]) : undefined;
      const op = m[3]!;
      if (req.method === "GET" && op === "health") return this.send(res, 200, { status: "healthy", agent_id: fleetAgent ?? "fleet-bridge", protocol_version: SWARM_PROTOCOL_VERSION, timestamp: swarmTime(this.clock.now()) });
      if (req.method === "GET" && op === "info") {
        const key = fleetAgent ? this.memberKey(fleetAgent).publicKey : this.masterKey(Object.keys(this.state.swarms)[0] ?? "").publicKey;
        return this.send(res, 200, { agent_id: fleetAgent ?? "fleet-bridge", endpoint: fleetAgent ? this.fleetEndpoint(fleetAgent) : this.masterEndpoint, public_key: Buffer.from(key).toString("base64"), protocol_version: SWARM_PROTOCOL_VERSION, capabilities: ["fleet-bridge"], metadata: { swarms: Object.values(this.state.swarms).map((s) => ({ swarm_id: s.swarm_id, name: s.name, master_public_key: Buffer.from(this.masterKey(s.swarm_id).publicKey).toString("base64") })) } });
      }
      if (req.method !== "POST") return this.error(res, 405, "METHOD_NOT_ALLOWED");
      const body = await this.body(req);
      if (!body) return this.error(res, 400, "INVALID_FORMAT", "body is not a JSON object (at most 256 KiB)");
      if (op === "join") return this.join(body, res);
      if (op === "message") return this.message(body, fleetAgent, res);
      return this.error(res, 404, "NOT_FOUND");
    } catch (e) {
      this.o.log?.(`swarm: ${(e as Error).message}`);
      if (!res.headersSent) this.error(res, 500, "INTERNAL_ERROR");
    }
  }

  private async fleetMembers(s: Swarm): Promise<string[]> {
    try {
      return (await fleetAgents(this.control, {})).filter((a) => a.groups.includes(s.group) && !a.agentId.startsWith(SWARM_PREFIX)).map((a) => a.agentId);
    } catch {
      return [];
    }
  }

  private async memberList(s: Swarm): Promise<Json[]> {
    const list: Json[] = [{ agent_id: "fleet-bridge", endpoint: this.masterEndpoint, public_key: Buffer.from(this.masterKey(s.swarm_id).publicKey).toString("base64") }];
    for (const f of await this.fleetMembers(s)) list.push({ agent_id: f, endpoint: this.fleetEndpoint(f), public_key: Buffer.from(this.memberKey(f).publicKey).toString("base64") });
    for (const m of Object.values(s.members)) list.push({ agent_id: m.agent_id, endpoint: m.endpoint, public_key: m.public_key });
    return list;
  }

  private async join(body: Json, res: ServerResponse): Promise<void> {
    const sender = body.sender as Json | undefined;
    if (body.type !== "system" || body.action !== "join_request" || !sender || typeof sender.agent_id !== "string" || !sender.agent_id || typeof sender.endpoint !== "string") return this.error(res, 400, "INVALID_FORMAT");
    const key = stdBase64Key(sender.public_key);
    if (!key) return this.error(res, 400, "INVALID_FORMAT", "public_key must be a raw 32-byte Ed25519 key in standard base64");
    if (!/^https:\/\//.test(sender.endpoint)) return this.error(res, 400, "INVALID_FORMAT", "endpoint must be https");
    const check = checkInviteToken(body.invite_token, (id) => (this.state.swarms[id] ? this.masterKey(id).publicKey : undefined), this.clock.now());
    if (!check.ok) return this.error(res, check.status, check.code);
    const s = this.state.swarms[check.payload.swarm_id]!;
    const agentId = sender.agent_id;
    const existing = s.members[agentId];
    if (existing) {
      // A member re-joining with its own key is fine (200); another key claiming the id is not.
      const k = stdBase64Key(existing.public_key)!;
      if (!constantTimeEqual(k, key)) return this.error(res, 409, "AGENT_ID_TAKEN", "agent_id is bound to another key");
      return this.send(res, 200, { status: "accepted", swarm_id: s.swarm_id, swarm_name: s.name, members: await this.memberList(s) });
    }
    if ((await this.fleetMembers(s)).includes(agentId) || agentId === "fleet-bridge") return this.error(res, 409, "AGENT_ID_TAKEN", "agent_id is a Fleet agent's");
    const tk = tokenKey(body.invite_token as string);
    const used = s.uses[tk] ?? 0;
    if (check.payload.max_uses !== undefined && used >= check.payload.max_uses) return this.error(res, 401, "TOKEN_EXHAUSTED", "invite has been used up");
    if (Object.keys(s.members).length >= MAX_MEMBERS || (used === 0 && this.state.tokenCount() >= MAX_TOKENS)) return this.error(res, 503, "SWARM_FULL");
    s.uses[tk] = used + 1;
    s.members[agentId] = { agent_id: agentId, endpoint: sender.endpoint.replace(/\/$/, ""), public_key: sender.public_key as string, joined_at: swarmTime(this.clock.now()) };
    this.state.save();
    await this.proxies.get(`${s.swarm_id}\u0000${agentId}`).catch((e) => this.o.log?.(`swarm: fleet connection for ${agentId}: ${(e as Error).message}`));
    return this.send(res, 200, { status: "accepted", swarm_id: s.swarm_id, swarm_name: s.name, members: await this.memberList(s) });
  }

  private checkShape(b: Json): string | undefined {
    const str = (k: string) => typeof b[k] === "string";
    if (!str("protocol_version") || !str("message_id") || !str("timestamp") || !str("recipient") || !str("swarm_id") || !str("content") || !str("signature")) return "missing or mistyped fields";
    if (!["message", "system", "notification"].includes(b.type as string)) return "type must be message, system or notification";
    const sender = b.sender as Json | undefined;
    if (!sender || typeof sender.agent_id !== "string" || typeof sender.endpoint !== "string") return "sender must have agent_id and endpoint";
    if (!Number.isFinite(parseSwarmTime(b.timestamp))) return "timestamp must be YYYY-MM-DDTHH:MM:SS.mmmZ";
    return undefined;
  }

  private async message(b: Json, fleetAgent: string | undefined, res: ServerResponse): Promise<void> {
    const shape = this.checkShape(b);
    if (shape) return this.error(res, 400, "INVALID_FORMAT", shape);
    const m = b as unknown as SwarmMessage;
    const s = this.state.swarms[m.swarm_id];
    if (!s) return this.error(res, 404, "SWARM_NOT_FOUND");
    const member = s.members[m.sender.agent_id];
    if (!member) return this.error(res, 403, "NOT_AUTHORIZED", "sender is not a member of the swarm");
    if (!verifySwarmMessage(m, stdBase64Key(member.public_key)!)) return this.error(res, 401, "INVALID_SIGNATURE");
    const now = this.clock.now();
    if (Math.abs(now - parseSwarmTime(m.timestamp)) > CLOCK_SKEW_MS) return this.error(res, 400, "CLOCK_SKEW", "timestamp is more than 5 minutes off");
    if (m.expires_at !== undefined && !(parseSwarmTime(m.expires_at) > now)) return this.error(res, 400, "MESSAGE_EXPIRED");
    const fleetMembers = fleetAgent || m.recipient !== "broadcast" ? await this.fleetMembers(s) : [];
    if (fleetAgent && !fleetMembers.includes(fleetAgent)) return this.error(res, 404, "AGENT_NOT_FOUND", `${fleetAgent} is not in this swarm`);
    const target = fleetAgent ?? "fleet-bridge";
    if (m.recipient !== "broadcast" && m.recipient !== target) return this.error(res, 400, "INVALID_RECIPIENT", "recipient must be broadcast or this endpoint's agent");
    const dedupeKey = `${m.swarm_id}\u0000${m.sender.agent_id}\u0000${m.message_id}\u0000${target}`;
    if (this.seen.lookup(dedupeKey)) return this.send(res, 200, { status: "queued", message_id: m.message_id });
    try {
      this.seen.remember(dedupeKey);
    } catch {
      return this.error(res, 503, "BUSY");
    }
    if (!fleetAgent) {
      // To the master: leaving is the one system action carried out here.
      if (m.type === "system") {
        try {
          const c = JSON.parse(m.content) as Json;
          if (c.action === "member_left" && c.agent_id === m.sender.agent_id) {
            delete s.members[m.sender.agent_id];
            this.state.save();
            void this.proxies.release(`${s.swarm_id}\u0000${m.sender.agent_id}`);
          }
        } catch {
          // not JSON: nothing to do
        }
      }
      return this.send(res, 200, { status: "queued", message_id: m.message_id });
    }
    try {
      const link = await this.proxies.get(`${s.swarm_id}\u0000${m.sender.agent_id}`);
      await link.send({ to: fleetAgent, requiresAck: true, threadId: m.thread_id, body: { case: "application", value: { mediaType: SWARM_MESSAGE_MEDIA_TYPE, content: { case: "json", value: JSON.stringify(b) } } } as never });
    } catch (e) {
      return this.error(res, 503, "DELIVERY_FAILED", (e as Error).message.slice(0, 200));
    }
    return this.send(res, 200, { status: "queued", message_id: m.message_id });
  }

  // ---- Fleet -> swarm ----

  private async fromFleet(key: string, link: FleetLink, env: Envelope): Promise<void> {
    if (env.type === MessageType.ERROR || env.type === MessageType.STATUS) return;
    const [swarmId, agentId] = key.split("\u0000") as [string, string];
    const refuse = (code: ErrorCode, why: string) => void link.send({ to: env.sender, type: MessageType.ERROR, inReplyTo: env.id, body: errorBody(code, why, { messageId: env.id }) }).catch(() => {});
    const s = this.state.swarms[swarmId];
    const member = s?.members[agentId];
    if (!s || !member) return refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `${agentId} is not a swarm member`);
    if (!(await this.fleetMembers(s)).includes(env.sender)) return refuse(ErrorCode.SECURITY_UNAUTHORIZED, `${env.sender} is not in group ${s.group}, the swarm ${s.name}`);
    const value = applicationValue(env);
    if (value instanceof Uint8Array || value === undefined) return refuse(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, "swarm messages carry text or JSON only");
    const toGroup = env.recipient?.target.case === "group";
    const msg = signSwarmMessage(
      {
        protocol_version: SWARM_PROTOCOL_VERSION,
        message_id: randomUUID(),
        timestamp: swarmTime(this.clock.now()),
        sender: { agent_id: env.sender, endpoint: this.fleetEndpoint(env.sender) },
        recipient: toGroup ? "broadcast" : agentId,
        swarm_id: s.swarm_id,
        type: "message",
        content: typeof value === "string" ? value : JSON.stringify(value),
        ...(env.threadId ? { thread_id: env.threadId } : {}),
        metadata: { fleet_message_id: env.id },
      },
      this.memberKey(env.sender),
    );
    const status = await this.post(`${member.endpoint}/message`, msg, env.sender).catch((e: Error) => e);
    if (typeof status !== "number" || (status !== 200 && status !== 202)) refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `swarm member ${agentId} answered ${typeof status === "number" ? status : status.message}`);
  }

  private post(url: string, body: unknown, from: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const req = httpsRequest(url, { method: "POST", ca: this.o.ca, timeout: 10_000, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text), "x-agent-id": from, "x-swarm-protocol": SWARM_PROTOCOL_VERSION } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(text);
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections?.();
    await closed;
    await this.proxies.closeAll();
    await this.control?.close();
  }
}

export function startSwarmBridge(o: SwarmBridgeOptions): Promise<SwarmBridge> {
  return new SwarmBridge(o).start();
}

export type { Member };

/** An invite for swarmId signed by the master key the bridge derives from its secret (also usable offline by the CLI). */
export function swarmInvite(o: { keys: BridgeKeys; swarmId: string; masterEndpoint: string; now: number; expiresAt?: number; maxUses?: number }): string {
  const payload = { swarm_id: o.swarmId, master: "fleet-bridge", endpoint: o.masterEndpoint, iat: Math.floor(o.now / 1000), jti: randomUUID(), ...(o.expiresAt !== undefined ? { expires_at: swarmTime(o.expiresAt) } : {}), ...(o.maxUses !== undefined ? { max_uses: o.maxUses } : {}) };
  const token = issueInviteToken(payload, o.keys.identity("swarm-master", o.swarmId));
  return `swarm://${o.swarmId}@${new URL(o.masterEndpoint).host}?token=${token}`;
}
