// agentnet signs Python's `json.dumps(v, sort_keys=True, separators=(",", ":"))` (ASCII
// escaping on). To check such a signature from JavaScript the JSON must be read without
// losing what Python keeps: whether a number was an int or a float. parseJsonLossless reads
// numbers as PyNumber; pyCanonicalJson writes Python's exact text (float repr included).
import { ErrorCode, FleetError } from "../../errors.js";

export class PyNumber {
  constructor(readonly text: string, readonly isFloat: boolean) {}
  toJSON(): number {
    return Number(this.text);
  }
}

export type PyJson = null | boolean | string | PyNumber | PyJson[] | { [k: string]: PyJson };

function bad(at: number): FleetError {
  return new FleetError(ErrorCode.WIRE_MALFORMED, `invalid JSON at ${at}`);
}

/** JSON.parse, except numbers become PyNumber and objects have no prototype. At most 64 levels deep. */
export function parseJsonLossless(text: string): PyJson {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const value = (depth: number): PyJson => {
    if (depth > 64) throw bad(i);
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const o: { [k: string]: PyJson } = Object.create(null);
      ws();
      if (text[i] === "}") {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw bad(i);
        const k = str();
        ws();
        if (text[i++] !== ":") throw bad(i);
        o[k] = value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return o;
        } else throw bad(i);
      }
    }
    if (c === "[") {
      i++;
      const a: PyJson[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return a;
        } else throw bad(i);
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", i)) return (i += 4), true;
    if (text.startsWith("false", i)) return (i += 5), false;
    if (text.startsWith("null", i)) return (i += 4), null;
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) throw bad(i);
    i += m[0].length;
    return new PyNumber(m[0], Boolean(m[2] || m[3]));
  };
  const str = (): string => {
    const start = i;
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) throw bad(start);
      const c = text[i]!;
      if (c === '"') {
        i++;
        return out;
      }
      if (c < " ") throw bad(i);
      if (c !== "\\") {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e && e in simple) {
        out += simple[e];
        i += 2;
      } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else throw bad(i);
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) throw bad(i);
  return v;
}

/** Plain JavaScript value of a lossless tree (numbers as JS numbers). */
export function toPlain(v: PyJson): unknown {
  return JSON.parse(JSON.stringify(v));
}

/** Python's repr() of a float. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expText] = x.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const sign = neg ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ae = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${ae < 10 ? "0" : ""}${ae}`;
  }
  const point = exp + 1;
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = s.charCodeAt(i);
    if (c === '"') out += '\\"';
    else if (c === "\\") out += "\\\\";
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (c === "\b") out += "\\b";
    else if (c === "\f") out += "\\f";
    else if (code < 0x20 || code > 0x7e) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += c;
  }
  return out + '"';
}

/** Python sorts str keys by code point; UTF-16 order differs only around surrogates. */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** json.dumps(v, sort_keys=True, separators=(",", ":")) with ensure_ascii, for a lossless or plain value. */
export function pyCanonicalJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "string") return pyString(v);
  if (v instanceof PyNumber) {
    if (v.isFloat) return pyFloatRepr(Number(v.text));
    const t = v.text.replace(/^-0$/, "0");
    return t;
  }
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 2 ** 53 ? String(v) : pyFloatRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyCanonicalJson).join(",")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort(byCodePoint)
      .map((k) => `${pyString(k)}:${pyCanonicalJson(o[k])}`)
      .join(",")}}`;
  }
  throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `cannot write ${typeof v} as JSON`);
}
