// Registry query answers are bounded (spec/registry.md "Query answers"): one answer holds at
// most MAX_REGISTRY_ANSWER_AGENTS agents and MAX_REGISTRY_ANSWER_BYTES of records, flagged
// truncated when more matched; a client reads the rest page by page with after_agent_id.
// Pure: the answering side limits, the asking side pages.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AgentRecordSchema,
  HealthRecordSchema,
  type RegistryQuery,
  type RegistryQueryResult,
  RegistryQueryResultSchema,
} from "../../generated/proto/fleet/v1/registry_pb.js";
import { ErrorCode, FleetError } from "../errors.js";

/** Agents in one registry answer, at most. */
export const MAX_REGISTRY_ANSWER_AGENTS = 256;
/** Bytes of records (agents and their health, binary protobuf) in one answer, at most. */
export const MAX_REGISTRY_ANSWER_BYTES = 262_144;
/** Pages a client reads for one listing before giving up (256 x 256 = 65,536 agents). */
export const MAX_REGISTRY_PAGES = 256;

export interface RegistryAnswerLimits {
  maxAgents?: number;
  maxBytes?: number;
}

/**
 * The first agents of a full query result that fit the limits (always at least one, so paging
 * progresses), with their health; truncated when any were left out.
 */
export function limitRegistryAnswer(full: RegistryQueryResult, limits: RegistryAnswerLimits = {}): RegistryQueryResult {
  const maxAgents = limits.maxAgents ?? MAX_REGISTRY_ANSWER_AGENTS;
  const maxBytes = limits.maxBytes ?? MAX_REGISTRY_ANSWER_BYTES;
  const health = new Map(full.health.map((h) => [h.agentId, h]));
  const agents = [];
  const kept = [];
  let bytes = 0;
  for (const a of full.agents) {
    const h = health.get(a.agentId);
    const size = toBinary(AgentRecordSchema, a).length + (h ? toBinary(HealthRecordSchema, h).length : 0);
    if (agents.length > 0 && (agents.length >= maxAgents || bytes + size > maxBytes)) break;
    agents.push(a);
    if (h) kept.push(h);
    bytes += size;
  }
  return create(RegistryQueryResultSchema, { agents, health: kept, truncated: agents.length < full.agents.length });
}

/**
 * Every page of a query: asks again after the last agent of each truncated answer, at most
 * maxPages times (then 804: the registry is larger than this client reads at once).
 */
export async function readRegistryPages(
  ask: (q: Partial<RegistryQuery>) => Promise<RegistryQueryResult>,
  q: Partial<RegistryQuery>,
  maxPages = MAX_REGISTRY_PAGES,
): Promise<RegistryQueryResult> {
  const all = create(RegistryQueryResultSchema);
  let after = q.afterAgentId ?? "";
  for (let page = 0; page < maxPages; page++) {
    const answer = await ask({ ...q, afterAgentId: after });
    all.agents.push(...answer.agents);
    all.health.push(...answer.health);
    const last = answer.agents.at(-1)?.agentId;
    if (!answer.truncated || last === undefined || last === after) return all;
    after = last;
  }
  throw new FleetError(ErrorCode.DELIVERY_BUSY, `the registry answer is longer than ${maxPages} pages; narrow the query (capability, role, agent)`);
}
