// Secret redaction for logs and CLI output. Each rule targets a recognisable secret shape
// (provider prefixes, PEM blocks, JWTs, bearer credentials, Luhn-valid card numbers, long
// high-entropy runs), so ordinary words, uuids and key ids pass through untouched.
const MARK = (kind: string) => `[REDACTED:${kind}]`;

interface Rule {
  kind: string;
  re: RegExp;
  /** Extra check on the match; false keeps the text. */
  accept?: (match: string) => boolean;
  /** Replacement when not simply the mark (e.g. keep the "Bearer " prefix). */
  replace?: (match: string, ...groups: string[]) => string;
}

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function looksRandom(s: string): boolean {
  const body = s.replace(/=+$/, "");
  if (!/[A-Z]/.test(body) || !/[a-z]/.test(body) || !/[0-9]/.test(body)) return false;
  return new Set(body).size >= 16;
}

/**
 * A file path, not a secret (spec/redaction.md): an absolute path (the run starts with "/";
 * base64 text starts so once in 64) of two or more segments, none of which is itself a long
 * random-looking run. "/home/alice/Projects/Fleet2024/keys/alpha.key" is kept; a base64
 * secret that happens to contain "/" still has a long random segment and is redacted.
 */
function looksLikePath(s: string): boolean {
  if (!s.startsWith("/")) return false;
  const segments = s.split("/").filter(Boolean);
  return segments.length >= 2 && segments.every((seg) => seg.length < 24 || !looksRandom(seg));
}

const RULES: Rule[] = [
  { kind: "private-key", re: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g },
  { kind: "jwt", re: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: "fleet-token", re: /\bfleet1\.[A-Za-z0-9_-]{20,}/g },
  // A NATS nkey seed (user SU..., account SA..., operator SO..., server SN..., cluster SC..., curve SX...):
  // base32 upper case, which the base64 rule below does not take for random (spec/nats-auth.md).
  { kind: "nkey-seed", re: /\bS[UAONCX][A-Z2-7]{56}\b/g },
  {
    kind: "bearer",
    re: /\b(Bearer|Basic|Token)(\s+)([A-Za-z0-9._~+/=-]{8,})/gi,
    // A credential has a digit, a token symbol or mixed case; "token validation" is prose.
    accept: (m) => {
      const cred = m.replace(/^\S+\s+/, "");
      return /[0-9._~+/=]/.test(cred) || /[a-z][A-Z]|[A-Z]{2}[a-z]/.test(cred);
    },
    replace: (_m, scheme: string, space: string) => `${scheme}${space}${MARK("bearer")}`,
  },
  { kind: "api-key", re: /\bsk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{20,}/g },
  { kind: "github-token", re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})/g },
  { kind: "aws-key", re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: "slack-token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  {
    kind: "secret",
    re: /\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key|client[_-]?secret)(\s*[:=]\s*"?)([^\s"',;&]{6,})/gi,
    replace: (_m, name: string, sep: string) => `${name}${sep}${MARK("secret")}`,
  },
  {
    kind: "card",
    // Known card prefixes only, so millisecond timestamps and ids are never mistaken for cards.
    re: /(?<![\d-])(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9])|35)(?:[ -]?\d){11,17}(?![\d])/g,
    accept: (m) => {
      const digits = m.replace(/[ -]/g, "");
      return digits.length >= 13 && digits.length <= 19 && luhn(digits);
    },
  },
  { kind: "hex-secret", re: /(?<![A-Za-z0-9:_-])[0-9a-fA-F]{32,}(?![A-Za-z0-9_-])/g, accept: (m) => /[0-9]/.test(m) && /[a-fA-F]/.test(m) },
  { kind: "base64-secret", re: /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}/g, accept: (m) => looksRandom(m) && !looksLikePath(m) },
];

/** Replaces every secret-looking part of a text with [REDACTED:kind]. */
export function redactText(text: string): string {
  if (typeof text !== "string" || text.length < 8) return text;
  let out = text;
  for (const rule of RULES) {
    rule.re.lastIndex = 0;
    out = out.replace(rule.re, (match: string, ...rest: unknown[]) => {
      if (rule.accept && !rule.accept(match)) return match;
      return rule.replace ? rule.replace(match, ...(rest.filter((r) => typeof r === "string") as string[])) : MARK(rule.kind);
    });
  }
  return out;
}

// Field names whose values are secrets whatever they look like.
const SECRET_KEYS = /^(?:password|passwd|pwd|secret|shared[_-]?secrets?|client[_-]?secret|api[_-]?key|apikey|authorization|cookie|private[_-]?key|seed|access[_-]?token|refresh[_-]?token|auth[_-]?token|admission[_-]?token|token)$/i;
const MAX_DEPTH = 64;

/** Deep copy of value with secrets redacted in every string, at any depth of objects and arrays. */
export function redact(value: unknown): unknown {
  return walk(value, 0, new WeakMap());
}

function walk(value: unknown, depth: number, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[REDACTED:too-deep]";
  if (seen.has(value)) return seen.get(value);
  if (ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(walk(item, depth + 1, seen));
    return out;
  }
  if (value instanceof Map) {
    const out = new Map();
    seen.set(value, out);
    for (const [k, v] of value) {
      const secretValue = (typeof v === "string" && v !== "") || ArrayBuffer.isView(v);
      out.set(k, typeof k === "string" && SECRET_KEYS.test(k) && secretValue ? MARK("secret") : walk(v, depth + 1, seen));
    }
    return out;
  }
  if (value instanceof Error) return redactText(`${value.name}: ${value.message}`);
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) {
    const secretValue = (typeof v === "string" && v !== "") || ArrayBuffer.isView(v);
    out[k] = SECRET_KEYS.test(k) && secretValue ? MARK("secret") : walk(v, depth + 1, seen);
  }
  return out;
}
