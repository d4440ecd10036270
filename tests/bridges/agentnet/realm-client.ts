// An agentnet ("Realm") client written from agentnet's documented wire behaviour (AgentNode
// and agentnet.registry, 0.1.1), over the real `nats` client: signed register, hello,
// goodbye, sends with receipts and re-publishing, requests, and an inbox that checks the
// sender's dev-auth signature through registry.resolve_key before answering receipts.
import { connect, type Msg, type NatsConnection } from "nats";
import { generateIdentity, fromBase64Url, type Identity } from "../../../runtime/crypto/index.js";
import { messageClaims, signClaims, verifyClaims } from "../../../runtime/bridges/agentnet/dev-auth.js";
import { isoMicros, newMessageId, newUlid } from "../../../runtime/bridges/agentnet/ids.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

export type Json = Record<string, unknown>;

export class RealmClient {
  nc!: NatsConnection;
  accountId = "";
  username = "";
  sessionTag = "";
  readonly identity: Identity;
  readonly receipts: Json[] = [];
  readonly inbox: Json[] = [];
  readonly refused: Json[] = [];
  private receiptWaiters = new Map<string, (r: Json) => void>();
  handler: (payload: unknown, env: Json) => unknown = () => ({ ok: true });

  constructor(readonly url: string, readonly o: { agentId: string; name: string; username: string; capabilities?: string[]; identity?: Identity }) {
    this.identity = o.identity ?? generateIdentity(o.agentId);
  }

  async open(): Promise<void> {
    this.nc = await connect({ servers: this.url });
  }

  async request(subject: string, body: Json, timeout = 2_000): Promise<Json> {
    const m = await this.nc.request(subject, enc.encode(JSON.stringify(body)), { timeout });
    return JSON.parse(dec.decode(m.data)) as Json;
  }

  registerBody(over: { claims?: Json; sign?: boolean; identity?: Identity } = {}): Json {
    const req: Json = { agent_id: this.o.agentId, name: this.o.name, capabilities: this.o.capabilities ?? [], metadata: {}, username: this.o.username };
    const claims = { agent_id: this.o.agentId, name: this.o.name, username: this.o.username, account_id: "", timestamp: isoMicros(Date.now()), nonce: newUlid(), ...(over.claims ?? {}) } as Record<string, string>;
    if (over.sign !== false) req.auth = signClaims(claims, over.identity ?? this.identity);
    return req;
  }

  async start(): Promise<Json> {
    if (!this.nc) await this.open();
    const r = await this.request("registry.register", this.registerBody(), 5_000);
    if ("error" in r) throw new Error(String(r.error));
    this.accountId = String(r.account_id);
    this.username = String(r.username);
    this.sessionTag = String(r.session_tag);
    this.nc.subscribe(`account.${this.accountId}.receipts`, { callback: (_e, m) => this.onReceipt(m) });
    this.nc.subscribe(`account.${this.accountId}.inbox`, { queue: `agentnet-account-${this.accountId}`, callback: (_e, m) => void this.onInbox(m) });
    for (const c of this.o.capabilities ?? []) this.nc.subscribe(`agent.capability.${c}`, { queue: `agentnet-capability-${c}`, callback: (_e, m) => void this.onInbox(m) });
    this.nc.publish("registry.hello", enc.encode(JSON.stringify({ agent_id: this.o.agentId, name: this.o.name, account_id: this.accountId, username: this.username, session_tag: this.sessionTag, capabilities: this.o.capabilities ?? [], metadata: {}, last_seen: isoMicros(Date.now()) })));
    await this.nc.flush();
    return r;
  }

  envelope(toAccount: string, toAgent: string, payload: unknown, over: Json = {}): Json {
    const id = newMessageId();
    const now = Date.now();
    const env: Json = {
      message_id: id,
      from_agent: this.o.agentId,
      to_agent: toAgent,
      payload,
      sent_at: isoMicros(now),
      kind: "direct",
      schema_version: "1.1",
      from_session_tag: this.sessionTag,
      from_account_id: this.accountId,
      to_account_id: toAccount,
      ttl_ms: 30_000,
      expires_at: isoMicros(now + 30_000),
      trace_id: id,
      thread_id: `thread_${id}`,
      ...over,
    };
    if (over.auth === undefined) env.auth = signClaims(messageClaims(env, true), this.identity);
    else if (over.auth === null) delete env.auth;
    return env;
  }

  async resolve(username: string): Promise<string> {
    const r = await this.request("registry.resolve_account", { username: username.toLowerCase().replace(/^@/, "") });
    if ("error" in r) throw new Error(String(r.error));
    return String(r.account_id);
  }

  /** Publishes env to the account's inbox; waits 1.5 s per attempt for a receipt, at most 3 attempts (same bytes). */
  async publish(toAccount: string, env: Json): Promise<Json | undefined> {
    const data = enc.encode(JSON.stringify(env));
    for (let attempt = 0; attempt < 3; attempt++) {
      const got = new Promise<Json | undefined>((resolve) => {
        const t = setTimeout(() => {
          this.receiptWaiters.delete(String(env.message_id));
          resolve(undefined);
        }, 1_500);
        this.receiptWaiters.set(String(env.message_id), (r) => {
          clearTimeout(t);
          resolve(r);
        });
      });
      this.nc.publish(`account.${toAccount}.inbox`, data);
      const r = await got;
      if (r) return r;
    }
    return undefined;
  }

  /** send_to_capability: the envelope goes to agent.capability.<cap> (one agent of the queue group takes it). */
  async sendToCapability(cap: string, payload: unknown): Promise<Json | undefined> {
    const env = this.envelope("", cap, payload);
    const data = enc.encode(JSON.stringify(env));
    for (let attempt = 0; attempt < 3; attempt++) {
      const got = new Promise<Json | undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), 1_500);
        this.receiptWaiters.set(String(env.message_id), (r) => {
          clearTimeout(t);
          resolve(r);
        });
      });
      this.nc.publish(`agent.capability.${cap}`, data);
      const r = await got;
      if (r) return r;
    }
    return undefined;
  }

  async sendToUsername(username: string, payload: unknown, over: Json = {}): Promise<Json | undefined> {
    const account = await this.resolve(username);
    return this.publish(account, this.envelope(account, username, payload, over));
  }

  async requestUsername(username: string, payload: unknown): Promise<Json> {
    const account = await this.resolve(username);
    const env = this.envelope(account, username, payload, { kind: "request" });
    const m = await this.nc.request(`account.${account}.inbox`, enc.encode(JSON.stringify(env)), { timeout: 5_000 });
    return JSON.parse(dec.decode(m.data)) as Json;
  }

  private onReceipt(m: Msg): void {
    const r = JSON.parse(dec.decode(m.data)) as Json;
    this.receipts.push(r);
    const w = this.receiptWaiters.get(String(r.message_id));
    if (w) {
      this.receiptWaiters.delete(String(r.message_id));
      w(r);
    }
  }

  private async onInbox(m: Msg): Promise<void> {
    const env = JSON.parse(dec.decode(m.data)) as Json;
    const auth = env.auth as { public_key: string; claims: Json; signature: string } | undefined;
    const from = String(env.from_account_id ?? "");
    const receipt = (status: string, code = "") =>
      this.nc.publish(`account.${from}.receipts`, enc.encode(JSON.stringify({ message_id: env.message_id, status, event_at: isoMicros(Date.now()), from_account_id: this.accountId, from_session_tag: this.sessionTag, to_account_id: from, trace_id: env.trace_id, thread_id: env.thread_id, parent_message_id: env.parent_message_id ?? "", code, detail: "" })));
    let code = "";
    if (!auth) code = "auth_missing";
    else {
      const key = await this.request("registry.resolve_key", { account_id: from });
      if ("error" in key) code = "auth_key_not_found";
      else if (key.public_key !== auth.public_key) code = "auth_public_key_mismatch";
      else if (JSON.stringify(auth.claims) !== JSON.stringify(messageClaims(env, true)) && JSON.stringify(auth.claims) !== JSON.stringify(messageClaims(env, false))) code = "auth_claims_mismatch";
      else if (!verifyClaims(fromBase64Url(auth.public_key), auth.claims, auth.signature)) code = "auth_signature_invalid";
    }
    if (code) {
      this.refused.push({ code, env });
      receipt("rejected", code);
      return;
    }
    receipt("accepted");
    this.inbox.push(env);
    const answer = this.handler(env.payload, env);
    if (m.reply) {
      const reply = this.envelope(from, String(env.from_agent), answer, { kind: "reply", parent_message_id: env.message_id, trace_id: env.trace_id, thread_id: env.thread_id });
      m.respond(enc.encode(JSON.stringify(reply)));
    }
    receipt("processed");
  }

  async goodbye(): Promise<void> {
    this.nc.publish("registry.goodbye", enc.encode(JSON.stringify({ agent_id: this.o.agentId, session_tag: this.sessionTag, seen_at: isoMicros(Date.now()) })));
    await this.nc.flush();
  }

  async close(): Promise<void> {
    await this.nc?.drain().catch(() => {});
  }
}
