// Hub ops on groups (spec/hub.md "Groups"), as application JSON to fleet:hub:
//   {"op":"group.append","statement":"<base64url SignedGroupStatement>"} -> the group's state
//   {"op":"group.chain","group":"ops"} -> {"group","statements":[base64url...],"state"}
// The chain is public to every admitted agent: recipients fold it themselves.
import { GroupRole, GroupSendPolicy } from "../../generated/proto/fleet/v1/group_pb.js";
import { fromBase64Url, toBase64Url } from "../crypto/bytes.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { GroupState } from "../protocol/groups/index.js";
import type { Hub } from "./hub.js";

/** The JSON view of a group state (what the CLI prints). */
export function groupStateJson(state: GroupState) {
  return {
    group: state.group,
    seq: state.seq.toString(),
    owner: state.owner,
    policy: { send: GroupSendPolicy[state.policy.send].toLowerCase(), join_approval: state.policy.joinApproval },
    members: [...state.members].map(([agent, m]) => ({ agent, role: GroupRole[m.role].toLowerCase(), muted: m.muted })),
    pending: [...state.pending],
  };
}

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
