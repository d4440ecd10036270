// The agentnet ("Realm") bridge (spec/bridges/agentnet.md): on the same nats-server as a
// NATS fleet, it serves agentnet's registry.* requests and relays between agentnet inboxes
// and Fleet agents. A Realm account with username u is the Fleet agent "realm:u" (one Fleet
// NATS connection per online account, key derived from the bridge secret); a Fleet agent F
// is a Realm account (stable acct_ id, username f, a key the bridge holds, resolvable with
// registry.resolve_key) whose inbox the bridge serves with agentnet's receipts.
import { connect, type Msg, type NatsConnection, type Subscription } from "nats";
import { type Envelope, MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { errorBody } from "../../client/bodies.js";
import { applicationValue } from "../../client/draft.js";
import { systemClock, type Clock, type TimerId } from "../../clock.js";
import { type Identity } from "../../crypto/index.js";
import { ErrorCode } from "../../errors.js";
import { BridgeKeys } from "../shared/bridge-keys.js";
import { fleetAgents, natsConnector, ProxyPool, type FleetConnector, type FleetLink } from "../shared/fleet-link.js";
import { parseJsonLossless, toPlain, type PyJson } from "./canonical-json.js";
import { messageClaims, signClaims } from "./dev-auth.js";
import { isoMicros, newMessageId, presentedAccountId } from "./ids.js";
import { RealmReceiver } from "./receiver.js";
import { RealmRegistry, type Account, type Reply, type Session } from "./registry.js";

export const AGENTNET_ENVELOPE_MEDIA_TYPE = "application/vnd.agentnet.envelope+json";
export const REALM_PREFIX = "realm:";
export const SCHEMA_VERSION = "1.1";
export const RECEIPT_TIMEOUT_MS = 1_500;
export const SEND_ATTEMPTS = 3;
export const REQUEST_TIMEOUT_MS = 5_000;
/** At most this many Fleet agents are presented as accounts at once. */
export const MAX_PRESENTED = 1_000;
/** At most this many capability queue groups are joined for Fleet agents. */
export const MAX_CAPABILITIES = 256;
/** At most this many Fleet-to-Realm sends wait for a receipt. */
export const MAX_WAITING_RECEIPTS = 1_000;

export interface AgentnetBridgeOptions {
  /** The nats-server agentnet clients use (the same one the fleet uses). */
  natsUrl: string;
  /** How the bridge reaches the fleet (default: natsConnector(natsUrl)). */
  connect?: FleetConnector;
  keys?: BridgeKeys;
  /** Where account→key bindings persist (JSON, 0600). */
  bindingsFile?: string;
  controlAgent?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const REGISTRY_SUBJECTS = ["register", "hello", "goodbye", "list", "resolve_account", "resolve_key", "search", "profile", "thread_status", "thread_list", "thread_messages", "message_search", "metrics"];

interface Addressing {
  agent: string;
  account: string;
  ttlMs?: number;
  traceId?: string;
  threadId?: string;
  parentId?: string;
  idempotencyKey?: string;
}

type Waiter = { resolve: (r: Record<string, unknown>) => void; timer: TimerId };

export class AgentnetBridge {
  readonly registry: RealmRegistry;
  readonly receiver: RealmReceiver;
  private readonly clock: Clock;
  private readonly keys: BridgeKeys;
  private readonly proxies: ProxyPool;
  private readonly presented = new Map<string, { account: Account; subs: Subscription[] }>();
  private readonly waiting = new Map<string, Waiter>();
  /** agent.capability.<cap> subscriptions for capabilities Fleet agents offer (at most MAX_CAPABILITIES). */
  private readonly capabilitySubs = new Map<string, Subscription>();
  private nc!: NatsConnection;
  private control!: FleetLink;
  private gcTimer?: TimerId;
  private closed = false;

  constructor(private readonly o: AgentnetBridgeOptions) {
    this.clock = o.clock ?? systemClock;
    this.keys = o.keys ?? BridgeKeys.ephemeral();
    this.registry = new RealmRegistry({ clock: this.clock, bindingsFile: o.bindingsFile, onSessionEnd: (s) => this.sessionEnded(s) });
    this.receiver = new RealmReceiver({ clock: this.clock, keyOf: (id) => this.registry.accounts.get(id)?.public_key });
    const connector = o.connect ?? natsConnector(o.natsUrl);
    this.proxies = new ProxyPool({
      connect: connector,
      identityFor: (username) => this.keys.identity("realm-proxy", REALM_PREFIX + username),
      extrasFor: (username) => ({ capabilities: this.sessionOfUsername(username)?.capabilities }),
      attach: (username, link) => link.onMessage((env) => void this.fromFleet(username, link, env)),
    });
  }

  get controlAgent(): string {
    return this.o.controlAgent ?? "agentnet-bridge";
  }

  async start(): Promise<this> {
    this.nc = await connect({ servers: this.o.natsUrl, name: "fleet-agentnet-bridge" });
    this.control = await (this.o.connect ?? natsConnector(this.o.natsUrl))(this.keys.identity("agentnet-control", this.controlAgent));
    for (const name of REGISTRY_SUBJECTS) {
      this.nc.subscribe(`registry.${name}`, { callback: (_e, m) => void this.registryRequest(name, m).catch((e) => this.o.log?.(`agentnet: registry.${name}: ${(e as Error).message}`)) });
    }
    await this.nc.flush();
    const gc = () => {
      this.gcTimer = this.clock.setTimer(() => {
        this.registry.gc();
        void this.followCapabilities();
        gc();
      }, 5_000);
    };
    await this.followCapabilities();
    gc();
    return this;
  }

  private answer(m: Msg, reply: Reply): void {
    if (m.reply) m.respond(enc.encode(JSON.stringify(reply)));
  }

  private async registryRequest(name: string, m: Msg): Promise<void> {
    let req: Record<string, unknown> = {};
    try {
      if (m.data.length) req = JSON.parse(dec.decode(m.data)) as Record<string, unknown>;
      if (!req || typeof req !== "object" || Array.isArray(req)) throw new Error("not an object");
    } catch {
      return this.answer(m, { error: "invalid_json" });
    }
    switch (name) {
      case "register": {
        const r = this.registry.register(req);
        if (!r.error) void this.proxies.get(String(r.username)).catch((e) => this.o.log?.(`agentnet: fleet connection for realm:${String(r.username)} failed: ${(e as Error).message}`));
        return this.answer(m, r);
      }
      case "hello":
        return this.registry.hello(req);
      case "goodbye":
        return this.registry.goodbye(req);
      case "list": {
        await this.presentOnlineFleet();
        const agents = [...this.registry.sessions.values()].map((s) => this.registry.info(s));
        for (const p of this.presented.values()) agents.push({ agent_id: p.account.fleetName, name: p.account.fleetName, capabilities: [], metadata: { fleet: true }, account_id: p.account.account_id, username: p.account.username, session_tag: "", last_seen: isoMicros(this.clock.now()) });
        return this.answer(m, { generated_at: isoMicros(this.clock.now()), agents });
      }
      case "resolve_account": {
        await this.presentByUsername(String(req.username ?? ""));
        return this.answer(m, this.registry.resolveAccount(req));
      }
      case "resolve_key":
        return this.answer(m, this.registry.resolveKey(req));
      case "profile":
        if (req.username) await this.presentByUsername(String(req.username));
        return this.answer(m, this.registry.profile(req));
      case "search":
        await this.presentOnlineFleet();
        return this.answer(m, this.registry.search(req));
      default:
        return this.answer(m, { error: "unsupported" });
    }
  }

  // ---- Fleet agents as Realm accounts ----

  private async presentByUsername(username: string): Promise<void> {
    const u = username.trim().replace(/^@/, "");
    if (!u || this.registry.byUsername.has(u.toLowerCase()) || u.startsWith(REALM_PREFIX)) return;
    try {
      const found = await fleetAgents(this.control, { agentId: u });
      const rec = found.find((a) => a.agentId === u || a.agentId.toLowerCase() === u.toLowerCase());
      if (rec) this.present(rec.agentId);
    } catch {
      // fleet unreachable: not found
    }
  }

  private async presentOnlineFleet(): Promise<void> {
    try {
      const online = await fleetAgents(this.control, { onlineOnly: true });
      for (const a of online) if (!a.agentId.startsWith(REALM_PREFIX) && a.agentId !== this.controlAgent) this.present(a.agentId);
    } catch {
      // fleet unreachable
    }
  }

  private signerFor(fleetName: string): Identity {
    return this.keys.identity("realm-account", fleetName);
  }

  /** Presents Fleet agent fleetName as a Realm account and serves its inbox (unless serveInbox is false); undefined when full. */
  present(fleetName: string, serveInbox = true): Account | undefined {
    const accountId = presentedAccountId(fleetName);
    const have = this.presented.get(accountId);
    if (have) return have.account;
    if (this.presented.size >= MAX_PRESENTED) return undefined;
    const account = this.registry.present(fleetName, accountId, this.signerFor(fleetName).publicKey);
    const subs = [this.nc.subscribe(`account.${accountId}.receipts`, { callback: (_e, m) => this.receipt(m) })];
    if (serveInbox) subs.push(this.nc.subscribe(`account.${accountId}.inbox`, { callback: (_e, m) => void this.toFleet(account, m) }));
    this.presented.set(accountId, { account, subs });
    return account;
  }

  /** Capabilities whose agentnet queue group the bridge has joined. */
  followedCapabilities(): string[] {
    return [...this.capabilitySubs.keys()];
  }

  /**
   * Joins agentnet's queue group on agent.capability.<cap> for every capability an online
   * Fleet agent offers, so agentnet senders reach Fleet agents by capability too (NATS picks
   * one member of the group: an agentnet agent or the bridge). Leaves groups no Fleet agent
   * offers any more.
   */
  async followCapabilities(): Promise<void> {
    let offered: Set<string>;
    try {
      offered = new Set((await fleetAgents(this.control, { onlineOnly: true })).filter((a) => !a.agentId.startsWith(REALM_PREFIX)).flatMap((a) => a.capabilities.map((c) => c.name)));
    } catch {
      return;
    }
    for (const [cap, sub] of this.capabilitySubs) {
      if (!offered.has(cap)) {
        sub.unsubscribe();
        this.capabilitySubs.delete(cap);
      }
    }
    const self = this.present(this.controlAgent, false);
    if (!self) return;
    for (const cap of offered) {
      if (this.capabilitySubs.has(cap) || this.capabilitySubs.size >= MAX_CAPABILITIES || !/^[A-Za-z0-9_\-]+$/.test(cap)) continue;
      this.capabilitySubs.set(cap, this.nc.subscribe(`agent.capability.${cap}`, { queue: `agentnet-capability-${cap}`, callback: (_e, m) => void this.toFleet(self, m, `capability:${cap}`) }));
    }
  }

  // ---- Realm -> Fleet ----

  private sessionOfUsername(username: string): Session | undefined {
    const id = this.registry.byUsername.get(username);
    return id ? this.registry.online(id) : undefined;
  }

  private publishReceipt(env: Record<string, PyJson>, issuer: Account, status: "accepted" | "processed" | "rejected", code = "", detail = ""): void {
    const to = typeof env.from_account_id === "string" ? env.from_account_id : "";
    // Receipts go only to the account the message claims to come from (and whose key signed it, or a refusal).
    if (!to || !this.registry.accounts.has(to)) return;
    const receipt = {
      message_id: env.message_id ?? "",
      status,
      event_at: isoMicros(this.clock.now()),
      from_account_id: issuer.account_id,
      from_session_tag: "",
      to_account_id: to,
      trace_id: env.trace_id ?? "",
      thread_id: env.thread_id ?? "",
      parent_message_id: env.parent_message_id ?? "",
      code,
      detail,
    };
    this.nc.publish(`account.${to}.receipts`, enc.encode(JSON.stringify(receipt)));
  }

  /** Messages to account.<id>.inbox of a presented Fleet agent (fleetTo = that agent), or to agent.capability.<cap> (fleetTo = "capability:<cap>", answered by the bridge's own account). */
  private async toFleet(account: Account, m: Msg, fleetTo = account.fleetName!): Promise<void> {
    const v = this.receiver.check(m.data, fleetTo.startsWith("capability:") ? fleetTo : account.account_id);
    if (!v.ok) {
      if (v.env && !v.silent) {
        this.publishReceipt(v.env, account, "rejected", v.code);
        if (m.reply) m.respond(enc.encode(JSON.stringify(this.envelopeFrom(account, this.replyTo(v.env), { error: v.code }, "reply", v.code))));
      }
      return;
    }
    const env = v.env;
    this.publishReceipt(env, account, "accepted");
    const sender = this.registry.accounts.get(String(env.from_account_id))!;
    if (sender.fleet) return this.publishReceipt(env, account, "rejected", "handler_error", "a presented Fleet account cannot send through the bridge");
    this.receiver.pending++;
    try {
      const link = await this.proxies.get(sender.username);
      const id = typeof env.message_id === "string" && /^[\x21-\x7e]{1,64}$/.test(env.message_id) ? env.message_id : undefined;
      const body = { case: "application" as const, value: { mediaType: AGENTNET_ENVELOPE_MEDIA_TYPE, content: { case: "json" as const, value: dec.decode(m.data) } } };
      const ttlSeconds = Math.max(1, Math.ceil((Number(toPlain(env.ttl_ms ?? null)) || 30_000) / 1000));
      if (m.reply) {
        const answer = await link.request({ to: fleetTo, id, ttlSeconds, body: body as never }, REQUEST_TIMEOUT_MS);
        m.respond(enc.encode(JSON.stringify(this.envelopeFrom(account, this.replyTo(env), applicationValue(answer) ?? null, "reply"))));
      } else {
        await link.send({ to: fleetTo, id, ttlSeconds, requiresAck: true, type: MessageType.EVENT, body: body as never });
      }
      this.publishReceipt(env, account, "processed");
    } catch (e) {
      const timeout = /no answer|within/.test((e as Error).message);
      this.publishReceipt(env, account, "rejected", timeout ? "timeout" : "handler_error", (e as Error).message.slice(0, 200));
    } finally {
      this.receiver.pending--;
    }
  }

  /** A signed Realm envelope from a presented Fleet account (replies and Fleet-originated messages). */
  private envelopeFrom(from: Account, to: Addressing, payload: unknown, kind: string, code = ""): Record<string, unknown> {
    const now = this.clock.now();
    const id = newMessageId();
    const ttl = to.ttlMs ?? 30_000;
    const env: Record<string, unknown> = {
      message_id: id,
      from_agent: from.fleetName,
      to_agent: to.agent,
      payload,
      sent_at: isoMicros(now),
      kind,
      schema_version: SCHEMA_VERSION,
      from_session_tag: "",
      from_account_id: from.account_id,
      to_account_id: to.account,
      ttl_ms: ttl,
      expires_at: isoMicros(now + ttl),
      trace_id: to.traceId || id,
      thread_id: to.threadId || `thread_${id}`,
      parent_message_id: to.parentId ?? "",
    };
    if (to.idempotencyKey) env.idempotency_key = to.idempotencyKey;
    if (code) env.code = code;
    env.auth = signClaims(messageClaims(env, true), this.signerFor(from.fleetName!));
    return env;
  }

  /** Addressing of a reply to a Realm request envelope. */
  private replyTo(req: Record<string, PyJson>): Addressing {
    const s = (v: PyJson | undefined) => (typeof v === "string" ? v : "");
    return { agent: s(req.from_agent), account: s(req.from_account_id), traceId: s(req.trace_id), threadId: s(req.thread_id), parentId: s(req.message_id) };
  }

  // ---- Fleet -> Realm ----

  private receipt(m: Msg): void {
    try {
      const r = JSON.parse(dec.decode(m.data)) as Record<string, unknown>;
      const w = this.waiting.get(String(r.message_id));
      if (w && r.status !== "accepted") {
        this.clock.clearTimer(w.timer);
        this.waiting.delete(String(r.message_id));
        w.resolve(r);
      } else if (w && r.status === "accepted") {
        // accepted: keep waiting for processed/rejected, but no more re-publishing
        w.resolve(r);
      }
    } catch {
      // not a receipt
    }
  }

  private waitReceipt(id: string): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve) => {
      if (this.waiting.size >= MAX_WAITING_RECEIPTS) return resolve({ status: "rejected", code: "busy" });
      const timer = this.clock.setTimer(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, RECEIPT_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (r) => {
          this.clock.clearTimer(timer);
          this.waiting.delete(id);
          resolve(r);
        },
        timer,
      });
    });
  }

  private async fromFleet(username: string, link: FleetLink, env: Envelope): Promise<void> {
    const refuse = (code: ErrorCode, why: string) => {
      if (env.type === MessageType.ERROR || env.type === MessageType.STATUS) return;
      void link.send({ to: env.sender, type: MessageType.ERROR, inReplyTo: env.id, body: errorBody(code, why, { messageId: env.id }) }).catch(() => {});
    };
    const accountId = this.registry.byUsername.get(username);
    const session = accountId ? this.registry.online(accountId) : undefined;
    if (!accountId || !session) return refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `agentnet account ${username} is offline`);
    const from = this.present(env.sender);
    if (!from) return refuse(ErrorCode.DELIVERY_BUSY, "bridge presents too many Fleet agents");
    const payload = applicationValue(env) ?? null;
    const out = this.envelopeFrom(
      from,
      { agent: session.agent_id, account: accountId, ttlMs: Math.max(1, Math.min(env.ttlSeconds, 3600)) * 1000, idempotencyKey: env.id, threadId: env.threadId },
      payload instanceof Uint8Array ? null : payload,
      env.type === MessageType.RESPONSE ? "reply" : "direct",
    );
    const data = enc.encode(JSON.stringify(out));
    const subject = `account.${accountId}.inbox`;
    if (env.type === MessageType.REQUEST) {
      try {
        const answer = await this.nc.request(subject, data, { timeout: REQUEST_TIMEOUT_MS });
        const reply = JSON.parse(dec.decode(answer.data)) as Record<string, unknown>;
        await link.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: reply.payload ?? null });
      } catch (e) {
        refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `agentnet request failed: ${(e as Error).message}`);
      }
      return;
    }
    for (let attempt = 0; attempt < SEND_ATTEMPTS && !this.closed; attempt++) {
      const waiting = this.waitReceipt(String(out.message_id));
      this.nc.publish(subject, data);
      const r = await waiting;
      if (!r) continue;
      if (r.status === "rejected" && r.code !== "duplicate") return refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `agentnet rejected: ${String(r.code)}`);
      return;
    }
    refuse(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "no agentnet receipt");
  }

  private sessionEnded(s: Session): void {
    if (this.registry.online(s.account_id)) return;
    const a = this.registry.accounts.get(s.account_id);
    if (a && !a.fleet) void this.proxies.release(a.username);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.gcTimer !== undefined) this.clock.clearTimer(this.gcTimer);
    await this.proxies.closeAll();
    await this.control?.close();
    await this.nc?.drain().catch(() => {});
  }
}

export function startAgentnetBridge(o: AgentnetBridgeOptions): Promise<AgentnetBridge> {
  return new AgentnetBridge(o).start();
}

export { parseJsonLossless };
