// Group invites (spec/groups.md "Invites"): tokens (spec/tokens.md) with audience
// "group:<name>" and scope "group:join", issued by an admin or the owner; max_uses is counted
// in the group's chain (one use per GroupJoin that carried it), so the limit holds wherever the
// chain is folded: after a hub restart, on another hub, on every NATS peer.
import type { Clock } from "../../clock.js";
import type { Identity } from "../../crypto/identity.js";
import type { KeyResolver } from "../../crypto/keys.js";
import { issueToken, verifyToken, type TokenClaims } from "../../crypto/token.js";
import { ErrorCode, FleetError } from "../../errors.js";
import type { GroupKeys } from "./keys.js";

export const INVITE_SCOPE = "group:join";
export const inviteAudience = (group: string) => `group:${group}`;

export interface InviteOptions {
  /** How many joins it admits; 0 = unlimited. */
  uses?: number;
  ttlMs?: number;
  /** Bind it to one agent (its name) or one key (an "ed25519:" key id). */
  holder?: string;
  clock?: Clock;
}

/** The invite's pasteable text form ("fleet1." ...). */
export function issueInvite(group: string, issuer: Identity, opts: InviteOptions = {}): string {
  return issueToken({ audience: inviteAudience(group), scopes: [INVITE_SCOPE], maxUses: opts.uses ?? 0, subject: opts.holder ?? "" }, issuer, {
    clock: opts.clock,
    ttlMs: opts.ttlMs,
    audienceNamesIssuer: false,
  });
}

/** The invite's issuer key must be current at the join's time, like a statement's. */
function keysAt(keys: GroupKeys, at: number): KeyResolver {
  const live = (keyId: string) => {
    const k = keys.lookup(keyId);
    return k && at >= k.from && (k.until === undefined || at < k.until) ? k : undefined;
  };
  return {
    // A known key verifies the signature; whether it was the issuer's key at `at` is step 3 (607).
    resolve: (keyId) => keys.lookup(keyId)?.publicKey,
    checkBinding(agent, keyId) {
      if (live(keyId)?.agent !== agent) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${keyId} was not ${agent}'s key at the join`, { pointer: "/issuer" });
    },
  };
}

/**
 * Checks an invite carried by a join of `joiner` (with key joinerKeyId) at time `at`, counting
 * its use in `uses` (the chain's count so far, updated in place on success).
 * 601 forged, 607 issuer key, 603 other group / scope / holder, 602 expired, 608 used up.
 */
export function checkInvite(invite: string, group: string, joiner: string, joinerKeyId: string, at: number, keys: GroupKeys, uses: Map<string, number>): TokenClaims {
  const pending = new Map<string, number>();
  const claims = verifyToken(invite, {
    keys: keysAt(keys, at),
    audience: inviteAudience(group),
    // Any key the group's history knows may have signed it; that the issuer is an owner or admin
    // is the fold's check (state.ts), and that the key was theirs at the join is checkBinding's.
    trustedIssuer: (keyId) => keys.lookup(keyId) !== undefined,
    scope: INVITE_SCOPE,
    clock: { now: () => at, setTimer: () => 0, clearTimer: () => {} },
    skewMs: 0,
    uses: {
      consume(tokenId, maxUses) {
        const n = uses.get(tokenId) ?? 0;
        if (n >= maxUses) return false;
        pending.set(tokenId, n + 1);
        return true;
      },
    },
  });
  if (claims.subject) {
    const presented = claims.subject.startsWith("ed25519:") ? joinerKeyId : joiner;
    if (claims.subject !== presented) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `invite is for ${claims.subject}`, { pointer: "/subject" });
  }
  for (const [id, n] of pending) uses.set(id, n);
  return claims;
}
