// Everything the CLI prints goes through here, and through redact, so no secret reaches a
// terminal or a log: one JSON document with --json, readable lines otherwise.
import { redact, redactText } from "../crypto/index.js";
import { asFleetError, ErrorCode, errorCodeName } from "../errors.js";
import { CliError } from "./cli-error.js";

export interface Output {
  json: boolean;
  /** A readable line (suppressed with --json). */
  line(text: string): void;
  /** The command's result: printed as JSON with --json, else via the lines already written. */
  result(value: unknown): void;
  /** Streaming JSON records (one per line) for long-running commands like `hub` and `inbox --follow`. */
  event(value: Record<string, unknown>): void;
  /**
   * What the user asked this command to print that the redactor would mangle: a credential
   * (`fleet group invite`), a grant or a public key that looks like one. Written as is, not
   * redacted: `text` on its own line, or with --json `value` as the result's `field`. The only
   * way such text reaches stdout; logs and every other line still go through redact.
   */
  secret(field: string, value: unknown, text?: string): void;
}

export function makeOutput(json: boolean, write: (s: string) => void = (s) => process.stdout.write(s)): Output {
  const secrets: Record<string, unknown> = {};
  return {
    json,
    line: (text) => {
      if (!json) write(redactText(text) + "\n");
    },
    result: (value) => {
      if (!json) return;
      const v = redact(value);
      write(JSON.stringify(Object.keys(secrets).length ? { ...(v as object), ...secrets } : v, bigintSafe) + "\n");
    },
    secret: (field, value, text) => {
      if (json) secrets[field] = value;
      else write((text ?? String(value)) + "\n");
    },
    event: (value) => {
      if (json) write(JSON.stringify(redact(value), bigintSafe) + "\n");
    },
  };
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/** One readable line for stderr (with the protocol code for a FleetError), or a JSON error object. */
export function errorLine(e: unknown, json: boolean): string {
  if (e instanceof CliError) {
    const text = redactText(e.message);
    return json ? JSON.stringify({ ok: false, error: { kind: e.kind, message: text } }) : `fleet: ${text}`;
  }
  const err = asFleetError(e, ErrorCode.INTERNAL_ERROR, "fleet");
  const text = redactText(err.message);
  if (json) return JSON.stringify({ ok: false, error: { code: err.code, name: errorCodeName(err.code), message: text, pointer: err.pointer || undefined } });
  return `fleet: error ${err.code} ${errorCodeName(err.code)}: ${text}`;
}
