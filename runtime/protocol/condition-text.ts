// The text form of bottle conditions (bottle.proto): "always", "agent_online:NAME",
// "capability:NAME", "not_before:ISO-8601", joined with "&" (all) or "|" (any; binds looser).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Condition, ConditionSchema } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { ErrorCode, FleetError } from "../errors.js";

function atom(text: string): Condition {
  const t = text.trim();
  if (t === "always") return create(ConditionSchema, { kind: { case: "always", value: true } });
  const m = /^(agent_online|capability|not_before):(.+)$/.exec(t);
  if (!m) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `unknown condition ${JSON.stringify(t)} (always, agent_online:NAME, capability:NAME, not_before:ISO)`, { pointer: "/condition" });
  if (m[1] === "agent_online") return create(ConditionSchema, { kind: { case: "agentOnline", value: m[2] } });
  if (m[1] === "capability") return create(ConditionSchema, { kind: { case: "capabilityPresent", value: m[2] } });
  const ms = Date.parse(m[2]);
  if (!Number.isFinite(ms)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `not a time: ${m[2]}`, { pointer: "/condition/notBefore" });
  return create(ConditionSchema, { kind: { case: "notBefore", value: timestampFromMs(ms) } });
}

export function parseCondition(text: string): Condition {
  const anyParts = text.split("|");
  const conj = (part: string) => {
    const all = part.split("&").map(atom);
    return all.length === 1 ? all[0] : create(ConditionSchema, { kind: { case: "all", value: { conditions: all } } });
  };
  const any = anyParts.map(conj);
  return any.length === 1 ? any[0] : create(ConditionSchema, { kind: { case: "any", value: { conditions: any } } });
}
