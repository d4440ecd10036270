// Hub ops on groups (spec/hub.md "Groups"), as application JSON to fleet:hub:
//   {"op":"group.append","statement":"<base64url SignedGroupStatement>"} -> the group's state
//   {"op":"group.chain","group":"ops"} -> {"group","statements":[base64url...],"state"}
// The chain is public to every admitted agent: recipients fold it themselves.
import { fromBase64Url, toBase64Url } from "../crypto/bytes.js";
import { ErrorCode, FleetError } from "../errors.js";
import { groupStateJson } from "../protocol/groups/index.js";
import type { Hub } from "./hub.js";

/** The JSON view of a group state (what the CLI prints); kept here under its old name. */
export { groupStateJson };

export function groupOp(hub: Hub, value: { op?: string; group?: string; statement?: string }): unknown {
  if (value.op === "group.append") {
    if (typeof value.statement !== "string") throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "statement is required", { pointer: "/body/application" });
    const state = hub.groups.append(fromBase64Url(value.statement, ErrorCode.SECURITY_SIGNATURE_INVALID));
    hub.log(`group ${state.group}: statement ${state.seq} appended`);
    return groupStateJson(state);
  }
  const group = String(value.group ?? "");
  const state = hub.groups.state(group);
  if (!state) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no chain for group ${group}`, { pointer: "/body/application" });
  return { group, statements: hub.groups.chain(group).map(toBase64Url), state: groupStateJson(state) };
}
