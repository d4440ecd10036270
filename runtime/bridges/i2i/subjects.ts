// I2I's three commit-subject formats (spec/bridges/i2i.md):
//   v0.1  [I2I:<from>-><to>:<type>[:<thread>]] <payload>
//   v1    [I2I:<TYPE>] <scope> — <summary>
//   v2    [I2I:<TYPE>:<CODE>] <scope> — <summary>
// and the names a Fleet agent has on the I2I side (v0.1 names cannot hold - > : ]).

export interface I2IMessage {
  format: "v0.1" | "v1" | "v2";
  from?: string;
  to?: string;
  type: string;
  thread?: string;
  code?: string;
  scope?: string;
  summary?: string;
  /** v0.1: the subject text after the bracket (the payload, at most 200 characters by I2I's sender). */
  payload?: string;
  /** Text after the first blank line. */
  body: string;
}

const V01 = /^\[I2I:([^\-\]>:]+)->([^\]:]+):([^\]:]+)(?::([^\]]+))?\]\s?(.*)$/;
const V2 = /^\[I2I:([A-Z_]+):([A-Z]{3})\]\s?(.*?)\s+—\s+(.*)$/;
const V1 = /^\[I2I:([A-Z_]+)\]\s?(.*?)\s+—\s+(.*)$/;

/** Parses a full commit message; undefined when the subject is not an I2I subject. */
export function parseI2ICommit(message: string): I2IMessage | undefined {
  const nl = message.indexOf("\n");
  const subject = (nl < 0 ? message : message.slice(0, nl)).trimEnd();
  const rest = nl < 0 ? "" : message.slice(nl + 1);
  const body = rest.replace(/^\s*\n/, "").replace(/\s+$/, "");
  let m = V01.exec(subject);
  if (m) return { format: "v0.1", from: m[1], to: m[2], type: m[3]!, thread: m[4], payload: m[5] ?? "", body };
  m = V2.exec(subject);
  if (m) return { format: "v2", type: m[1]!, code: m[2], scope: m[3], summary: m[4], body };
  m = V1.exec(subject);
  if (m) return { format: "v1", type: m[1]!, scope: m[2], summary: m[3], body };
  return undefined;
}

/** The v0.1 subject line I2I's sender writes (payload cut to 200 characters). */
export function v01Subject(from: string, to: string, type: string, payload: string, thread?: string): string {
  return `[I2I:${from}->${to}:${type}${thread ? `:${thread}` : ""}] ${payload.replace(/\s*\n\s*/g, " ").slice(0, 200)}`;
}

/** An I2I-safe alias of a Fleet name: characters v0.1 cannot carry become "_". */
export function i2iAlias(fleetName: string): string {
  return fleetName.replace(/[\-\]>:\s\[]/g, "_");
}

/** Names an I2I agent may have on the bridge (v0.1-safe, 1..64 characters). */
export function isI2IName(name: string): boolean {
  return /^[^\-\]>:\s\[*]{1,64}$/.test(name);
}
