// agent-swarm-protocol 0.1.0 on the wire (spec/bridges/swarm.md): message signatures
// (Ed25519 over SHA-256 of message_id + timestamp + swarm_id + recipient + type + content,
// standard base64), EdDSA JWT invites (base64url, no padding), timestamps with milliseconds.
import { createHash } from "node:crypto";
import { fromBase64Url, toBase64Url, verifyEd25519, type Identity } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";

export const SWARM_PROTOCOL_VERSION = "0.1.0";

export interface SwarmMessage {
  protocol_version: string;
  message_id: string;
  timestamp: string;
  sender: { agent_id: string; endpoint: string };
  recipient: string;
  swarm_id: string;
  type: "message" | "system" | "notification";
  content: string;
  signature: string;
  in_reply_to?: string;
  thread_id?: string;
  priority?: "low" | "normal" | "high";
  expires_at?: string;
  attachments?: unknown[];
  references?: unknown[];
  metadata?: Record<string, unknown>;
}

const utf8 = new TextEncoder();

export function swarmSignedDigest(m: Pick<SwarmMessage, "message_id" | "timestamp" | "swarm_id" | "recipient" | "type" | "content">): Uint8Array {
  return createHash("sha256").update(utf8.encode(m.message_id + m.timestamp + m.swarm_id + m.recipient + m.type + m.content)).digest();
}

export function signSwarmMessage(m: Omit<SwarmMessage, "signature">, identity: Identity): SwarmMessage {
  return { ...m, signature: Buffer.from(identity.sign(swarmSignedDigest(m))).toString("base64") } as SwarmMessage;
}

export function verifySwarmMessage(m: SwarmMessage, publicKey: Uint8Array): boolean {
  try {
    return verifyEd25519(publicKey, swarmSignedDigest(m), Uint8Array.from(Buffer.from(m.signature, "base64")));
  } catch {
    return false;
  }
}

export function swarmTime(ms: number): string {
  return new Date(ms).toISOString();
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
export function parseSwarmTime(text: unknown): number {
  return typeof text === "string" && TIME.test(text) ? Date.parse(text) : NaN;
}

export function stdBase64Key(text: unknown): Uint8Array | undefined {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const k = Uint8Array.from(Buffer.from(text, "base64"));
  return k.length === 32 ? k : undefined;
}

export interface InvitePayload {
  swarm_id: string;
  master: string;
  endpoint: string;
  iat: number;
  expires_at?: string;
  max_uses?: number;
  /** Added by the bridge so two invites issued in the same second are different tokens (uses are counted per token). */
  jti?: string;
}

const JWT_HEADER = toBase64Url(utf8.encode('{"alg":"EdDSA","typ":"JWT"}'));

export function issueInviteToken(p: InvitePayload, master: Identity): string {
  const body = `${JWT_HEADER}.${toBase64Url(utf8.encode(JSON.stringify(p)))}`;
  return `${body}.${toBase64Url(master.sign(utf8.encode(body)))}`;
}

export type InviteCheck = { ok: true; payload: InvitePayload } | { ok: false; status: number; code: string };

/** Checks a JWT invite's form, header, signature (by masterKey) and expiry. */
export function checkInviteToken(token: unknown, masterKeyOf: (swarmId: string) => Uint8Array | undefined, now: number): InviteCheck {
  if (typeof token !== "string") return { ok: false, status: 400, code: "INVALID_TOKEN" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, status: 400, code: "INVALID_TOKEN" };
  let header: Record<string, unknown>;
  let payload: InvitePayload;
  try {
    header = JSON.parse(Buffer.from(fromBase64Url(parts[0]!)).toString("utf8"));
    payload = JSON.parse(Buffer.from(fromBase64Url(parts[1]!)).toString("utf8"));
  } catch {
    return { ok: false, status: 400, code: "INVALID_TOKEN" };
  }
  if (header.alg !== "EdDSA" || !payload || typeof payload.swarm_id !== "string") return { ok: false, status: 401, code: "INVALID_SIGNATURE" };
  const key = masterKeyOf(payload.swarm_id);
  if (!key) return { ok: false, status: 404, code: "SWARM_NOT_FOUND" };
  let sig: Uint8Array;
  try {
    sig = fromBase64Url(parts[2]!);
  } catch {
    return { ok: false, status: 401, code: "INVALID_SIGNATURE" };
  }
  if (!verifyEd25519(key, utf8.encode(`${parts[0]}.${parts[1]}`), sig)) return { ok: false, status: 401, code: "INVALID_SIGNATURE" };
  if (payload.expires_at !== undefined) {
    const exp = parseSwarmTime(payload.expires_at);
    if (!Number.isFinite(exp) || exp <= now) return { ok: false, status: 401, code: "TOKEN_EXPIRED" };
  }
  return { ok: true, payload };
}

/** The token's use-count key: SHA-256 of the JWT text. */
export function tokenKey(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** For a Fleet recipient: the original swarm message a bridged message carries, its signature checked with the sender member's key (601 otherwise). */
export function openSwarmMessage(text: string, publicKey: Uint8Array): SwarmMessage {
  const m = JSON.parse(text) as SwarmMessage;
  if (!verifySwarmMessage(m, publicKey)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "swarm message signature does not verify");
  return m;
}
