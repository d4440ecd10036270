// Checks an incoming registry entry before anything is merged: a bad entry rejects the
// whole message, so a replica never holds half of a malformed batch.
import type { RegistryEntry, VersionCounter } from "../../generated/proto/fleet/v1/registry_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { compareText } from "./bytes.js";

/** The largest causal count (2^32): a larger one is refused (709), a write that would pass it fails. */
export const MAX_CAUSAL_COUNT = 2n ** 32n;

const KEY = /^(agent|service|health)\/(.{1,128})$/su;

export function parseRegistryKey(key: string): { kind: "agent" | "service" | "health"; id: string } | undefined {
  const m = KEY.exec(key);
  return m ? { kind: m[1] as "agent" | "service" | "health", id: m[2] } : undefined;
}

function recordId(entry: RegistryEntry): string | undefined {
  const r = entry.record;
  if (r.case === "agent") return r.value.agentId;
  if (r.case === "service") return r.value.serviceId;
  if (r.case === "health") return r.value.agentId;
  return undefined;
}

export function validateCausal(causal: readonly VersionCounter[], pointer: string): void {
  causal.forEach((c, i) => {
    if (!c.node) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "causal counter without node", { pointer: `${pointer}/${i}/node` });
    if (c.count < 1n || c.count > MAX_CAUSAL_COUNT) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `causal count must be 1..${MAX_CAUSAL_COUNT}`, { pointer: `${pointer}/${i}/count` });
    if (i > 0 && compareText(causal[i - 1].node, c.node) >= 0) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "causal counters must be sorted by node, one per node", { pointer: `${pointer}/${i}/node` });
  });
}

export function validateRegistryEntry(entry: RegistryEntry, pointer: string): void {
  const key = parseRegistryKey(entry.key);
  if (!key) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `registry key must be agent/, service/ or health/ + 1..128 characters: ${JSON.stringify(entry.key)}`, { pointer: `${pointer}/key` });
  if (!entry.version || !entry.version.node) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "registry entry without version", { pointer: `${pointer}/version` });
  if (entry.tombstone) {
    if (entry.record.case !== undefined) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "a tombstone carries no record", { pointer: `${pointer}/${entry.record.case}` });
  } else {
    if (entry.record.case !== key.kind) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `entry ${entry.key} needs a ${key.kind} record`, { pointer: `${pointer}/${key.kind}` });
    if (recordId(entry) !== key.id) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `record id does not match key ${entry.key}`, { pointer: `${pointer}/${key.kind}` });
  }
  validateCausal(entry.causal, `${pointer}/causal`);
}
