// The operator's read of a NATS fleet before an authorization is written (spec/nats-auth.md
// "Inputs"), logged in as the admin: the rotations and revocations stored in FLEET_KEYS applied
// to the keys the operator knows, exactly as every agent applies them (rotation.ts, verified
// against the pinned key), so a rotated agent is listed with its new key and a revoked one not at
// all; then, optionally, every group chain stored in FLEET_GROUPS folded as every agent folds it
// (groups.ts: a statement that does not verify or fold is skipped), with those keys.
import { systemClock } from "../clock.js";
import { PinnedKeys, type Identity } from "../crypto/index.js";
import { keyIdFor } from "../crypto/keyid.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { MAX_CHAINED_GROUPS, type GroupState } from "../protocol/groups/index.js";
import type { AuthAgent } from "./authorization.js";
import { NatsCarrier } from "./carrier.js";
import { NatsGroupKeys } from "./group-keys.js";
import { NatsGroupChains } from "./groups.js";
import { NatsRotations } from "./rotation.js";
import { CHANNEL_SUBJECTS, parseSubject, STREAMS } from "./subjects.js";

export interface FollowedKeys {
  /** Every agent still bound, with its current key. */
  agents: AuthAgent[];
  /** Agents whose key moved. */
  rotated: string[];
  /** Agents whose key was revoked (no longer listed). */
  revoked: string[];
  /** With groups: every chain in FLEET_GROUPS, folded (at most MAX_CHAINED_GROUPS: more is 804). */
  groups?: GroupState[];
  /** With groups: stored statements skipped (they did not verify or fold), with their code. */
  skipped?: { subject: string; code: number }[];
}

const notFound = (e: unknown) => /not found/i.test(String((e as Error)?.message));

/**
 * Logs in as admin (its nkey), reads FLEET_KEYS from the start and applies it to agents' keys
 * (trust "pinned": rotations of names not given are refused); with groups, reads every chain of
 * FLEET_GROUPS too. Throws when the server cannot be read (no login): the caller keeps what it has.
 */
export async function followKeys(url: string | string[], admin: Identity, agents: AuthAgent[], opts: { groups?: boolean } = {}): Promise<FollowedKeys> {
  const keys = new PinnedKeys();
  for (const a of [...agents, { agent: admin.agent, publicKey: admin.publicKey }]) keys.pin(a.agent, a.publicKey);
  const groupKeys = new NatsGroupKeys(keys, "pinned");
  const carrier = await NatsCarrier.connect({ servers: url, name: admin.agent, auth: { mode: "auto", identity: () => admin }, manageStreams: false });
  const revoked: string[] = [];
  const out: FollowedKeys = { agents: [], rotated: [], revoked };
  try {
    const jsm = await carrier.nc.jetstreamManager();
    // A server whose streams are not made yet holds no rotation and no chain.
    const hasKeys = await jsm.streams.info(STREAMS.keys.name).then(() => true, (e) => (notFound(e) ? false : Promise.reject(e)));
    if (hasKeys) {
      const rotations = new NatsRotations({
        keys,
        trust: "pinned",
        clock: systemClock,
        carrier,
        rotated: (pin, retired) => groupKeys.retire(retired, pin.keyId),
        revoked: (r) => revoked.push(r.agent),
        // Refused statements (unknown names, bad signatures) change nothing here, as for every agent.
        reject: () => {},
      });
      try {
        await rotations.start();
      } finally {
        await rotations.stop();
      }
    }
    if (opts.groups) {
      const info = await jsm.streams.info(STREAMS.groups.name, { subjects_filter: CHANNEL_SUBJECTS.groupChain.replace("{group}", "*") }).catch((e) => (notFound(e) ? undefined : Promise.reject(e)));
      const names = Object.keys(info?.state.subjects ?? {}).map((s) => parseSubject(s)?.param).filter((g): g is string => g !== undefined).sort();
      if (names.length > MAX_CHAINED_GROUPS) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${names.length} group chains in ${STREAMS.groups.name}, more than ${MAX_CHAINED_GROUPS}`);
      const skipped: { subject: string; code: number }[] = [];
      const chains = new NatsGroupChains({ carrier, keys: groupKeys, identity: admin, clock: systemClock, reject: (e, subject) => skipped.push({ subject, code: e.code }), changed: () => {} });
      out.groups = [];
      for (const g of names) {
        const { state } = await chains.read(g).catch((e) => Promise.reject(asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, `group ${g}`)));
        if (state) out.groups.push(state);
      }
      out.skipped = skipped;
      await chains.stop();
    }
  } finally {
    await carrier.close();
  }
  for (const a of agents) {
    const keyId = keys.keyIdOf(a.agent);
    const publicKey = keyId === undefined ? undefined : keys.resolve(keyId);
    if (!publicKey) continue;
    if (keyId !== keyIdFor(a.publicKey)) out.rotated.push(a.agent);
    out.agents.push({ agent: a.agent, publicKey });
  }
  return out;
}
