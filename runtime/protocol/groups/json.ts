// The JSON view of a folded group state: what a hub's group ops answer, what the NATS binding
// returns on append, and what `fleet group ... --json` prints.
import { GroupRole, GroupSendPolicy } from "../../../generated/proto/fleet/v1/group_pb.js";
import type { GroupState } from "./state.js";

export interface GroupStateJson {
  group: string;
  seq: string;
  owner: string;
  policy: { send: string; join_approval: boolean };
  members: { agent: string; role: string; muted: boolean }[];
  pending: string[];
}

export function groupStateJson(state: GroupState): GroupStateJson {
  return {
    group: state.group,
    seq: state.seq.toString(),
    owner: state.owner,
    policy: { send: GroupSendPolicy[state.policy.send].toLowerCase(), join_approval: state.policy.joinApproval },
    members: [...state.members].map(([agent, m]) => ({ agent, role: GroupRole[m.role].toLowerCase(), muted: m.muted })),
    pending: [...state.pending],
  };
}
