// agentnet's "dev auth" (scheme dev-ed25519-v1): auth = {scheme, public_key, claims,
// signature}, public key and signature base64url without padding, the signature pure Ed25519
// over Python's canonical JSON of the claims (canonical-json.ts).
import { createHash } from "node:crypto";
import { fromBase64Url, toBase64Url, verifyEd25519, type Identity } from "../../crypto/index.js";
import { pyCanonicalJson, type PyJson } from "./canonical-json.js";

export const DEV_AUTH_SCHEME = "dev-ed25519-v1";

export interface DevAuth {
  scheme: string;
  public_key: string;
  claims: Record<string, string>;
  signature: string;
}

const utf8 = new TextEncoder();

export function signClaims(claims: Record<string, string>, identity: Identity): DevAuth {
  return { scheme: DEV_AUTH_SCHEME, public_key: toBase64Url(identity.publicKey), claims, signature: toBase64Url(identity.sign(utf8.encode(pyCanonicalJson(claims)))) };
}

export function verifyClaims(publicKey: Uint8Array, claims: unknown, signature: string): boolean {
  try {
    return verifyEd25519(publicKey, utf8.encode(pyCanonicalJson(claims)), fromBase64Url(signature));
  } catch {
    return false;
  }
}

export function decodeKey(b64: unknown): Uint8Array | undefined {
  if (typeof b64 !== "string") return undefined;
  try {
    const k = fromBase64Url(b64);
    return k.length === 32 ? k : undefined;
  } catch {
    return undefined;
  }
}

export function payloadSha256(payload: PyJson | unknown): string {
  return createHash("sha256").update(pyCanonicalJson(payload)).digest("hex");
}

const s = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "string" ? v : String((v as { toJSON?: () => unknown }).toJSON?.() ?? v));

/** The message claims for an envelope; `full` adds schema_version and idempotency_key (agentnet 0.1.1 sends them). */
export function messageClaims(env: Record<string, unknown>, full: boolean): Record<string, string> {
  const ttl = env.ttl_ms === undefined || env.ttl_ms === null ? "0" : s(env.ttl_ms);
  const c: Record<string, string> = {
    message_id: s(env.message_id),
    from_account_id: s(env.from_account_id),
    to_account_id: s(env.to_account_id),
    to_agent: s(env.to_agent),
    sent_at: s(env.sent_at),
    ttl_ms: ttl,
    expires_at: s(env.expires_at),
    trace_id: s(env.trace_id),
    thread_id: s(env.thread_id),
    parent_message_id: s(env.parent_message_id),
    kind: s(env.kind),
    payload_sha256: payloadSha256(env.payload as PyJson),
  };
  if (full) {
    c.schema_version = s(env.schema_version);
    c.idempotency_key = s(env.idempotency_key);
  }
  return c;
}

/** True when claims equal expected exactly (same keys, same strings). */
export function sameClaims(claims: unknown, expected: Record<string, string>): boolean {
  if (!claims || typeof claims !== "object") return false;
  const got = claims as Record<string, unknown>;
  const keys = Object.keys(got);
  return keys.length === Object.keys(expected).length && keys.every((k) => got[k] === expected[k]);
}
