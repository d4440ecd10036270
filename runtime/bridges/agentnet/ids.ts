// agentnet's identifiers and times: ULIDs (Crockford base32, lowercase in account ids),
// `acct_` + ULID account ids, uuid4 hex message ids, ISO-8601 UTC with microseconds and Z.
import { createHash } from "node:crypto";
import { randomBytes } from "../../crypto/index.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function base32(bytes: Uint8Array, chars: number): string {
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  const total = BigInt(bytes.length * 8);
  let out = "";
  for (let i = 0; i < chars; i++) {
    const shift = total - BigInt((i + 1) * 5);
    out += CROCKFORD[Number(shift >= 0n ? (bits >> shift) & 31n : (bits << -shift) & 31n)];
  }
  return out;
}

export function newUlid(now = Date.now()): string {
  const t = new Uint8Array(6);
  let ms = BigInt(now);
  for (let i = 5; i >= 0; i--) {
    t[i] = Number(ms & 0xffn);
    ms >>= 8n;
  }
  return base32(t, 10) + base32(randomBytes(10), 16);
}

/** A stable account id for a name the bridge presents (a Fleet agent): acct_ + 26 base32 chars of SHA-256. */
export function presentedAccountId(name: string): string {
  return "acct_" + base32(createHash("sha256").update(`fleet-agentnet-account\u0000${name}`).digest().subarray(0, 17), 26).toLowerCase();
}

export function newAccountId(): string {
  return "acct_" + newUlid().toLowerCase();
}

export function newMessageId(): string {
  return Buffer.from(randomBytes(16)).toString("hex");
}

/** ISO-8601 UTC with microseconds and Z, as agentnet writes it. */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Milliseconds of an ISO-8601 time with Z or an offset; NaN when unreadable. */
export function parseIso(text: unknown): number {
  if (typeof text !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$/.test(text.trim())) return NaN;
  let t = text.trim();
  if (!/(Z|[+-]\d\d:\d\d)$/.test(t)) t += "Z";
  // Date reads at most milliseconds: cut longer fractions.
  t = t.replace(/\.(\d{3})\d+/, ".$1");
  return Date.parse(t);
}
