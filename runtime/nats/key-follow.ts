// The operator's side of key rotation under nkey logins (spec/nats-auth.md "Inputs"): before an
// authorization is written, the rotations and revocations stored in FLEET_KEYS are applied to the
// keys the operator knows, exactly as every agent applies them (rotation.ts, verified against the
// pinned key), so a rotated agent is listed with its new key and a revoked one not at all.
import { systemClock } from "../clock.js";
import { PinnedKeys, type Identity } from "../crypto/index.js";
import { keyIdFor } from "../crypto/keyid.js";
import type { AuthAgent } from "./authorization.js";
import { NatsCarrier } from "./carrier.js";
import { NatsRotations } from "./rotation.js";
import { STREAMS } from "./subjects.js";

export interface FollowedKeys {
  /** Every agent still bound, with its current key. */
  agents: AuthAgent[];
  /** Agents whose key moved. */
  rotated: string[];
  /** Agents whose key was revoked (no longer listed). */
  revoked: string[];
}

/**
 * Logs in as admin (its nkey), reads FLEET_KEYS from the start and applies it to agents' keys
 * (trust "pinned": rotations of names not given are refused). Throws when the server cannot
 * be read (no login, no FLEET_KEYS yet): the caller then keeps the keys it has.
 */
export async function followKeys(url: string | string[], admin: Identity, agents: AuthAgent[]): Promise<FollowedKeys> {
  const keys = new PinnedKeys();
  for (const a of agents) keys.pin(a.agent, a.publicKey);
  const carrier = await NatsCarrier.connect({ servers: url, name: admin.agent, auth: { mode: "auto", identity: () => admin }, manageStreams: false });
  const revoked: string[] = [];
  try {
    // A server whose streams are not made yet holds no rotation: nothing to follow.
    const jsm = await carrier.nc.jetstreamManager();
    const exists = await jsm.streams.info(STREAMS.keys.name).then(
      () => true,
      (e: unknown) => {
        if (/not found/i.test(String((e as Error)?.message))) return false;
        throw e;
      },
    );
    if (!exists) return { agents: agents.map((a) => ({ ...a })), rotated: [], revoked: [] };
    const rotations = new NatsRotations({
      keys,
      trust: "pinned",
      clock: systemClock,
      carrier,
      rotated: () => {},
      revoked: (r) => revoked.push(r.agent),
      // Refused statements (unknown names, bad signatures) change nothing here, as for every agent.
      reject: () => {},
    });
    try {
      await rotations.start();
    } finally {
      await rotations.stop();
    }
  } finally {
    await carrier.close();
  }
  const out: FollowedKeys = { agents: [], rotated: [], revoked };
  for (const a of agents) {
    const keyId = keys.keyIdOf(a.agent);
    const publicKey = keyId === undefined ? undefined : keys.resolve(keyId);
    if (!publicKey) continue;
    if (keyId !== keyIdFor(a.publicKey)) out.rotated.push(a.agent);
    out.agents.push({ agent: a.agent, publicKey });
  }
  return out;
}
