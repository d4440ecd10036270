// What an agentnet receiver checks, in agentnet's order, before a message is accepted for a
// Fleet agent the bridge presents: size, JSON, schema major, dev auth (always required
// here), TTL, per-sender rate (5/s, burst 10), message_id and idempotency_key seen within
// 600 s, and the bridge's queue (100). Each refusal is agentnet's code. Bounded: the rate
// table and both dedupe windows hold at most maxEntries (full = busy).
import type { Clock } from "../../clock.js";
import { constantTimeEqual } from "../../crypto/index.js";
import { Deduper } from "../../protocol/dedupe.js";
import { parseJsonLossless, type PyJson } from "./canonical-json.js";
import { decodeKey, DEV_AUTH_SCHEME, messageClaims, sameClaims, verifyClaims } from "./dev-auth.js";
import { parseIso } from "./ids.js";

export const MAX_PAYLOAD_BYTES = 256_000;
export const RATE_PER_S = 5;
export const RATE_BURST = 10;
export const DEDUPE_WINDOW_MS = 600_000;
export const MAX_PENDING = 100;

export type Verdict = { ok: true; env: Record<string, PyJson> } | { ok: false; code: string; env?: Record<string, PyJson>; silent?: boolean };

export class RealmReceiver {
  private readonly ids: Deduper;
  private readonly idem: Deduper;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  pending = 0;

  constructor(private readonly o: { clock: Clock; keyOf: (accountId: string) => Uint8Array | undefined; maxEntries?: number }) {
    this.ids = new Deduper({ clock: o.clock, windowMs: DEDUPE_WINDOW_MS, maxEntries: o.maxEntries ?? 100_000 });
    this.idem = new Deduper({ clock: o.clock, windowMs: DEDUPE_WINDOW_MS, maxEntries: o.maxEntries ?? 100_000 });
  }

  check(data: Uint8Array, receiverAccount: string): Verdict {
    // Over-size input is dropped silently, as agentnet's receivers do.
    if (data.length > MAX_PAYLOAD_BYTES) return { ok: false, code: "payload_too_large", silent: true };
    let parsed: PyJson;
    try {
      parsed = data.length ? parseJsonLossless(new TextDecoder("utf-8", { fatal: true }).decode(data)) : Object.create(null);
    } catch {
      return { ok: false, code: "invalid_json", silent: true };
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { ok: false, code: "invalid_json", silent: true };
    const env = parsed as Record<string, PyJson>;
    const schema = typeof env.schema_version === "string" ? env.schema_version : "1.0";
    if (schema.split(".")[0] !== "1") return { ok: false, code: "unsupported_schema_version", env };
    const auth = this.auth(env);
    if (auth) return { ok: false, code: auth, env };
    const now = this.o.clock.now();
    const ttlMs = env.ttl_ms !== undefined && env.ttl_ms !== null ? Number((env.ttl_ms as { toJSON?: () => number }).toJSON?.() ?? env.ttl_ms) : NaN;
    const expires = parseIso(env.expires_at);
    const sent = parseIso(env.sent_at);
    if (!Number.isFinite(expires) && !(Number.isFinite(ttlMs) && ttlMs > 0)) return { ok: false, code: "missing_ttl", env };
    const deadline = Number.isFinite(expires) ? expires : sent + ttlMs;
    if (!Number.isFinite(deadline) || deadline <= now) return { ok: false, code: "expired", env };
    const sender = String(env.from_account_id);
    if (!this.take(sender, now)) return { ok: false, code: "rate_limited", env };
    const idKey = String(env.message_id);
    if (this.ids.lookup(idKey)) return { ok: false, code: "duplicate", env };
    const ik = typeof env.idempotency_key === "string" && env.idempotency_key ? `${sender}\u0000${receiverAccount}\u0000${env.idempotency_key}` : "";
    if (ik && this.idem.lookup(ik)) return { ok: false, code: "duplicate", env };
    if (this.pending >= MAX_PENDING) return { ok: false, code: "busy", env };
    try {
      this.ids.remember(idKey);
      if (ik) this.idem.remember(ik);
    } catch {
      return { ok: false, code: "busy", env };
    }
    return { ok: true, env };
  }

  private auth(env: Record<string, PyJson>): string | undefined {
    const from = env.from_account_id;
    if (typeof from !== "string" || !from) return "auth_missing_from_account";
    const auth = env.auth as Record<string, PyJson> | undefined;
    if (!auth || typeof auth !== "object" || Array.isArray(auth)) return "auth_missing";
    if (auth.scheme !== DEV_AUTH_SCHEME) return "auth_scheme_invalid";
    const key = decodeKey(auth.public_key);
    if (!key || !auth.claims || typeof auth.claims !== "object" || typeof auth.signature !== "string") return "auth_payload_invalid";
    const known = this.o.keyOf(from);
    if (!known) return "auth_key_not_found";
    if (!constantTimeEqual(known, key)) return "auth_public_key_mismatch";
    if (!sameClaims(auth.claims, messageClaims(env, true)) && !sameClaims(auth.claims, messageClaims(env, false))) return "auth_claims_mismatch";
    if (!verifyClaims(key, auth.claims, auth.signature)) return "auth_signature_invalid";
    return undefined;
  }

  private take(sender: string, now: number): boolean {
    let b = this.buckets.get(sender);
    if (!b) {
      if (this.buckets.size >= (this.o.maxEntries ?? 100_000)) {
        for (const [k, v] of this.buckets) if (now - v.at > 10_000) this.buckets.delete(k);
        if (this.buckets.size >= (this.o.maxEntries ?? 100_000)) return false;
      }
      b = { tokens: RATE_BURST, at: now };
      this.buckets.set(sender, b);
    }
    b.tokens = Math.min(RATE_BURST, b.tokens + ((now - b.at) / 1000) * RATE_PER_S);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
