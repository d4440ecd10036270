// Bottle delivery conditions: the text form ("agent_online:x", "capability:y",
// "not_before:ISO", "always", "&" for all, "|" for any, parentheses; & binds tighter
// than |), its parser, printer and evaluator.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Condition, ConditionSchema } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { ErrorCode, FleetError } from "../errors.js";

export interface ConditionWorld {
  now: number;
  isOnline(agent: string): boolean;
  /** Some online agent offers the capability. */
  hasCapability(name: string): boolean;
}

const MAX_DEPTH = 16;
const bad = (message: string) => new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, message, { pointer: "/condition" });

export function parseCondition(text: string): Condition {
  const tokens = text.match(/\s*(\(|\)|&|\||[^()&|]+)/g)?.map((t) => t.trim()).filter(Boolean) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const any = (depth: number): Condition => {
    const parts = [all(depth)];
    while (peek() === "|") {
      at++;
      parts.push(all(depth));
    }
    return parts.length === 1 ? parts[0] : create(ConditionSchema, { kind: { case: "any", value: { conditions: parts } } });
  };
  const all = (depth: number): Condition => {
    const parts = [atom(depth)];
    while (peek() === "&") {
      at++;
      parts.push(atom(depth));
    }
    return parts.length === 1 ? parts[0] : create(ConditionSchema, { kind: { case: "all", value: { conditions: parts } } });
  };
  const atom = (depth: number): Condition => {
    if (depth > MAX_DEPTH) throw bad("condition nested too deeply");
    const t = tokens[at++];
    if (t === undefined) throw bad(`condition ends early: ${JSON.stringify(text)}`);
    if (t === "(") {
      const inner = any(depth + 1);
      if (tokens[at++] !== ")") throw bad("missing )");
      return inner;
    }
    return leaf(t);
  };
  const result = any(0);
  if (at !== tokens.length) throw bad(`unexpected ${JSON.stringify(tokens[at])} in condition`);
  return result;
}

function leaf(t: string): Condition {
  if (t === "always") return create(ConditionSchema, { kind: { case: "always", value: true } });
  const colon = t.indexOf(":");
  const kind = colon < 0 ? t : t.slice(0, colon);
  const arg = colon < 0 ? "" : t.slice(colon + 1).trim();
  if (!arg) throw bad(`condition ${JSON.stringify(t)} needs an argument`);
  if (kind === "agent_online") return create(ConditionSchema, { kind: { case: "agentOnline", value: arg } });
  if (kind === "capability") return create(ConditionSchema, { kind: { case: "capabilityPresent", value: arg } });
  if (kind === "not_before") {
    const ms = Date.parse(arg);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(arg) || Number.isNaN(ms)) throw bad(`not_before needs an ISO 8601 time: ${JSON.stringify(arg)}`);
    return create(ConditionSchema, { kind: { case: "notBefore", value: timestampFromMs(ms) } });
  }
  throw bad(`unknown condition ${JSON.stringify(kind)}`);
}

export function conditionText(c: Condition, nested = false): string {
  const k = c.kind;
  switch (k.case) {
    case "always":
      return "always";
    case "agentOnline":
      return `agent_online:${k.value}`;
    case "capabilityPresent":
      return `capability:${k.value}`;
    case "notBefore":
      return `not_before:${new Date(timestampMs(k.value)).toISOString()}`;
    case "all":
      return k.value.conditions.map((x) => conditionText(x, true)).join("&");
    case "any": {
      const s = k.value.conditions.map((x) => conditionText(x, true)).join("|");
      return nested ? `(${s})` : s;
    }
    default:
      throw bad("empty condition");
  }
}

/** Structural checks for a condition received on the wire (the parser's guarantees). */
export function validateCondition(c: Condition | undefined, pointer = "/condition", depth = 0): void {
  if (!c) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "condition is required", { pointer });
  if (depth > MAX_DEPTH) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "condition nested too deeply", { pointer });
  const k = c.kind;
  if (k.case === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "condition has no kind", { pointer });
  if (k.case === "always" && !k.value) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "always must be true", { pointer: `${pointer}/always` });
  if ((k.case === "agentOnline" || k.case === "capabilityPresent") && !k.value) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${k.case} needs a name`, { pointer: `${pointer}/${k.case}` });
  if (k.case === "all" || k.case === "any") {
    if (!k.value.conditions.length) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${k.case} needs at least one condition`, { pointer: `${pointer}/${k.case}` });
    k.value.conditions.forEach((x, i) => validateCondition(x, `${pointer}/${k.case}/conditions/${i}`, depth + 1));
  }
}

export function evaluateCondition(c: Condition, world: ConditionWorld): boolean {
  const k = c.kind;
  switch (k.case) {
    case "always":
      return k.value;
    case "agentOnline":
      return world.isOnline(k.value);
    case "capabilityPresent":
      return world.hasCapability(k.value);
    case "notBefore":
      return world.now >= timestampMs(k.value);
    case "all":
      return k.value.conditions.every((x) => evaluateCondition(x, world));
    case "any":
      return k.value.conditions.some((x) => evaluateCondition(x, world));
    default:
      return false;
  }
}

/** The not_before instants after now that could change the outcome (for timers). */
export function pendingTimes(c: Condition, now: number, out: number[] = []): number[] {
  const k = c.kind;
  if (k.case === "notBefore" && timestampMs(k.value) > now) out.push(timestampMs(k.value));
  if (k.case === "all" || k.case === "any") for (const x of k.value.conditions) pendingTimes(x, now, out);
  return out;
}
