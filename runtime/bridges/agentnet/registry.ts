// The agentnet registry the bridge serves (registry.register, hello, goodbye, list,
// resolve_account, resolve_key, search, profile), with what agentnet leaves optional made
// mandatory: every register carries dev-ed25519-v1 claims signed by the account's key, the
// claims match the request, the timestamp is within ±120 s, a nonce is used once (300 s),
// and an account is bound to the first key that registered it. Bounded: at most maxAccounts
// accounts and maxSessions live sessions (register beyond answers {"error":"busy"}).
import type { Clock } from "../../clock.js";
import { toBase64Url } from "../../crypto/index.js";
import { Deduper } from "../../protocol/dedupe.js";
import { FirstKeyBindings } from "../shared/first-key.js";
import { decodeKey, DEV_AUTH_SCHEME, sameClaims, verifyClaims } from "./dev-auth.js";
import { isoMicros, newAccountId, newUlid, parseIso } from "./ids.js";

export const HEARTBEAT_INTERVAL_S = 12.0;
export const SESSION_TTL_S = 40.0;
export const REGISTER_SKEW_MS = 120_000;
export const NONCE_WINDOW_MS = 300_000;

export interface Account {
  account_id: string;
  username: string;
  public_key: Uint8Array;
  /** True for Fleet agents the bridge presents as accounts. */
  fleet: boolean;
  fleetName?: string;
  registered_at: string;
}

export interface Session {
  session_tag: string;
  account_id: string;
  agent_id: string;
  name: string;
  capabilities: string[];
  metadata: Record<string, unknown>;
  lastSeen: number;
}

export type Reply = Record<string, unknown>;

const str = (v: unknown) => (typeof v === "string" ? v : "");

export class RealmRegistry {
  readonly accounts = new Map<string, Account>();
  readonly byUsername = new Map<string, string>();
  readonly sessions = new Map<string, Session>();
  private readonly nonces: Deduper;
  private readonly keys: FirstKeyBindings;
  readonly serverId = newUlid().toLowerCase().slice(0, 10);

  constructor(private readonly o: { clock: Clock; maxAccounts?: number; maxSessions?: number; bindingsFile?: string; onSessionEnd?: (s: Session) => void }) {
    this.nonces = new Deduper({ clock: o.clock, windowMs: NONCE_WINDOW_MS, maxEntries: 100_000 });
    this.keys = new FirstKeyBindings({ file: o.bindingsFile, maxNames: o.maxAccounts ?? 10_000 });
  }

  private get maxAccounts(): number {
    return this.o.maxAccounts ?? 10_000;
  }

  /** Adds (or returns) an account the bridge presents for a Fleet agent. */
  present(fleetName: string, accountId: string, publicKey: Uint8Array): Account {
    const have = this.accounts.get(accountId);
    if (have) return have;
    let username = fleetName.toLowerCase();
    if (this.byUsername.has(username)) username = `${username}_fleet`;
    const a: Account = { account_id: accountId, username, public_key: publicKey, fleet: true, fleetName, registered_at: isoMicros(this.o.clock.now()) };
    this.accounts.set(accountId, a);
    this.byUsername.set(username, accountId);
    return a;
  }

  register(req: Record<string, unknown>): Reply {
    const auth = req.auth as Record<string, unknown> | undefined;
    if (!auth || typeof auth !== "object") return { error: "auth_missing" };
    if (auth.scheme !== DEV_AUTH_SCHEME) return { error: "auth_scheme_invalid" };
    const key = decodeKey(auth.public_key);
    const claims = auth.claims as Record<string, unknown> | undefined;
    if (!key || !claims || typeof claims !== "object" || typeof auth.signature !== "string") return { error: "auth_payload_invalid" };
    const agentId = str(req.agent_id);
    const name = str(req.name) || agentId;
    const username = str(req.username).trim().toLowerCase().replace(/^@/, "");
    const requestedAccount = str(req.account_id);
    if (!agentId) return { error: "agent_id_required" };
    const expected = { agent_id: agentId, name: str(req.name), username: str(req.username), account_id: requestedAccount, timestamp: str(claims.timestamp), nonce: str(claims.nonce) };
    if (!sameClaims(claims, expected) || !expected.nonce) return { error: "auth_claims_mismatch" };
    if (!verifyClaims(key, claims, auth.signature)) return { error: "auth_signature_invalid" };
    const at = parseIso(expected.timestamp);
    if (!Number.isFinite(at) || Math.abs(this.o.clock.now() - at) > REGISTER_SKEW_MS) return { error: "auth_timestamp_invalid" };
    // Which account: the one named, else the username's, else a new one.
    let accountId = requestedAccount || (username ? this.byUsername.get(username) : undefined) || "";
    const existing = accountId ? this.accounts.get(accountId) : undefined;
    if (existing?.fleet) return { error: "auth_public_key_mismatch" };
    if (requestedAccount && !existing) return { error: "not_found" };
    if (!existing) {
      if (this.accounts.size >= this.maxAccounts) return { error: "busy" };
      accountId = newAccountId();
    }
    const nonceKey = `${toBase64Url(key)}\u0000${expected.nonce}`;
    if (this.nonces.lookup(nonceKey)) return { error: "auth_nonce_replay" };
    try {
      this.keys.bind(accountId, key);
    } catch (e) {
      return { error: (e as { code?: number }).code === 607 ? "auth_public_key_mismatch" : "busy" };
    }
    try {
      this.nonces.remember(nonceKey);
    } catch {
      return { error: "busy" };
    }
    let account = existing;
    if (!account) {
      let u = username || agentId.toLowerCase();
      for (let i = 2; this.byUsername.has(u); i++) u = `${username || agentId.toLowerCase()}${i}`;
      account = { account_id: accountId, username: u, public_key: key, fleet: false, registered_at: isoMicros(this.o.clock.now()) };
      this.accounts.set(accountId, account);
      this.byUsername.set(u, accountId);
    }
    if (this.sessions.size >= (this.o.maxSessions ?? 10_000)) this.gc();
    if (this.sessions.size >= (this.o.maxSessions ?? 10_000)) return { error: "busy" };
    const session: Session = {
      session_tag: `${this.serverId}_${newUlid()}`,
      account_id: accountId,
      agent_id: agentId,
      name,
      capabilities: Array.isArray(req.capabilities) ? req.capabilities.map(String).slice(0, 64) : [],
      metadata: req.metadata && typeof req.metadata === "object" ? (req.metadata as Record<string, unknown>) : {},
      lastSeen: this.o.clock.now(),
    };
    this.sessions.set(session.session_tag, session);
    return { account_id: accountId, username: account.username, session_tag: session.session_tag, heartbeat_interval: HEARTBEAT_INTERVAL_S, ttl_seconds: SESSION_TTL_S, registered_at: account.registered_at };
  }

  hello(req: Record<string, unknown>): void {
    const s = this.sessions.get(str(req.session_tag));
    if (s && s.agent_id === str(req.agent_id)) s.lastSeen = this.o.clock.now();
  }

  goodbye(req: Record<string, unknown>): void {
    const s = this.sessions.get(str(req.session_tag));
    if (s && s.agent_id === str(req.agent_id)) this.end(s);
  }

  private end(s: Session): void {
    this.sessions.delete(s.session_tag);
    this.o.onSessionEnd?.(s);
  }

  /** Evicts sessions without a hello for SESSION_TTL_S. */
  gc(): void {
    const now = this.o.clock.now();
    for (const s of [...this.sessions.values()]) if (now - s.lastSeen > SESSION_TTL_S * 1000) this.end(s);
  }

  info(s: Session): Reply {
    const a = this.accounts.get(s.account_id);
    return { agent_id: s.agent_id, name: s.name, capabilities: s.capabilities, metadata: s.metadata, account_id: s.account_id, username: a?.username, session_tag: s.session_tag, last_seen: isoMicros(s.lastSeen) };
  }

  online(accountId: string): Session | undefined {
    for (const s of this.sessions.values()) if (s.account_id === accountId) return s;
    return undefined;
  }

  resolveAccount(req: Record<string, unknown>): Reply {
    const u = str(req.username).trim().toLowerCase().replace(/^@/, "");
    const id = this.byUsername.get(u);
    return id ? { account_id: id, username: u, resolved_at: isoMicros(this.o.clock.now()) } : { error: "not_found" };
  }

  resolveKey(req: Record<string, unknown>): Reply {
    const a = this.accounts.get(str(req.account_id));
    return a ? { account_id: a.account_id, public_key: toBase64Url(a.public_key), resolved_at: isoMicros(this.o.clock.now()) } : { error: "not_found" };
  }

  profileOf(a: Account): Reply {
    const s = this.online(a.account_id);
    return {
      account_id: a.account_id,
      username: a.username,
      display_name: s?.name ?? a.fleetName ?? a.username,
      capabilities: s?.capabilities ?? [],
      online: Boolean(s) || a.fleet,
      fleet: a.fleet,
      registered_at: a.registered_at,
    };
  }

  profile(req: Record<string, unknown>): Reply {
    const id = str(req.account_id) || this.byUsername.get(str(req.username).trim().toLowerCase().replace(/^@/, "")) || "";
    const a = this.accounts.get(id);
    return a ? { profile: this.profileOf(a), generated_at: isoMicros(this.o.clock.now()) } : { error: "not_found" };
  }

  search(req: Record<string, unknown>): Reply {
    const query = str(req.query).trim().toLowerCase();
    const capability = str(req.capability).trim();
    const limit = Math.max(1, Math.min(100, Number(req.limit) || 20));
    const onlineOnly = req.online_only === true;
    const results: Reply[] = [];
    for (const a of this.accounts.values()) {
      const p = this.profileOf(a);
      if (query && !a.username.includes(query) && !String(p.display_name).toLowerCase().includes(query)) continue;
      if (capability && !(p.capabilities as string[]).includes(capability)) continue;
      if (onlineOnly && !p.online) continue;
      results.push(p);
      if (results.length >= limit) break;
    }
    return { query, capability: capability || null, limit, online_only: onlineOnly, results, generated_at: isoMicros(this.o.clock.now()) };
  }
}
