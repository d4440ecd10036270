// Granted capabilities (spec/capabilities.md): a capability the fleet's policy names is offered
// only with a grant, a token (spec/tokens.md) with audience "capability:<name>" and scope
// "capability:offer", signed by one of the authorities the policy names for it, bound to the
// offering agent's key (holder_key_id) and, when it names a subject, to its name. Every other
// capability is open: anyone may offer it. The hub checks grants on every offer (Hello,
// registry record) and routes capability:<name> of a granted capability to valid holders only.
import { fromBinary } from "@bufbuild/protobuf";
import type { Capability } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { TokenClaimsSchema, TokenSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import { systemClock, type Clock } from "../clock.js";
import { fromBase64Url, toBase64Url } from "../crypto/bytes.js";
import type { Identity } from "../crypto/identity.js";
import { keyIdFor } from "../crypto/keyid.js";
import { StaticKeys } from "../crypto/keys.js";
import { issueToken, TOKEN_PREFIX, verifyToken, type TokenClaims } from "../crypto/token.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { capability, parseCapability } from "./capabilities.js";

export const GRANT_SCOPE = "capability:offer";
export const grantAudience = (capability: string) => `capability:${capability}`;
/** Granted capabilities one policy names (documented bound; more is 804). */
export const MAX_GRANTED_CAPABILITIES = 256;
/** Authorities per granted capability (documented bound; more is 804). */
export const MAX_GRANT_AUTHORITIES = 16;
/** Verdicts remembered per verifier (grant text + holder); at the bound the memo is emptied. */
export const MAX_GRANT_MEMO = 4096;

export interface GrantAuthority {
  agent: string;
  publicKey: Uint8Array;
}

/** Which capabilities are granted, and by whom. A capability the policy does not name is open. */
export type CapabilityPolicy = ReadonlyMap<string, readonly GrantAuthority[]>;

/**
 * The policy file (`fleet hub --capability-policy FILE`):
 *   {"granted": {"<capability>": [{"agent": "<authority name>", "public_key": "<base64url, 32 bytes>"}, ...], ...}}
 * 709 for anything else, with a pointer into the file.
 */
export function parseCapabilityPolicy(json: unknown): CapabilityPolicy {
  const bad = (message: string, pointer: string) => new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, message, { pointer });
  const granted = (json as { granted?: unknown } | null)?.granted;
  if (typeof granted !== "object" || granted === null || Array.isArray(granted)) throw bad('a capability policy is {"granted": {"<capability>": [authorities]}}', "/granted");
  const entries = Object.entries(granted as Record<string, unknown>);
  if (entries.length > MAX_GRANTED_CAPABILITIES) throw new FleetError(ErrorCode.DELIVERY_BUSY, `a policy grants at most ${MAX_GRANTED_CAPABILITIES} capabilities`, { pointer: "/granted" });
  const policy = new Map<string, GrantAuthority[]>();
  for (const [name, list] of entries) {
    const at = `/granted/${name}`;
    if (!/^[a-z0-9._-]{1,64}$/.test(name)) throw bad(`not a capability name: ${JSON.stringify(name)}`, at);
    if (!Array.isArray(list) || list.length === 0) throw bad(`${name}: a list of at least one authority`, at);
    if (list.length > MAX_GRANT_AUTHORITIES) throw new FleetError(ErrorCode.DELIVERY_BUSY, `${name}: at most ${MAX_GRANT_AUTHORITIES} authorities`, { pointer: at });
    policy.set(
      name,
      list.map((a: { agent?: unknown; public_key?: unknown }, i) => {
        if (typeof a?.agent !== "string" || !a.agent) throw bad("an authority names its agent", `${at}/${i}/agent`);
        let publicKey: Uint8Array | undefined;
        try {
          publicKey = typeof a.public_key === "string" ? fromBase64Url(a.public_key, ErrorCode.VALIDATION_OUT_OF_RANGE) : undefined;
        } catch {
          publicKey = undefined;
        }
        if (!publicKey || publicKey.length !== 32) throw bad("an authority's public_key is 32 bytes, base64url", `${at}/${i}/public_key`);
        return { agent: a.agent, publicKey };
      }),
    );
  }
  return policy;
}

/** The policy file's entry naming `authority` for each capability (what `fleet capability authority` prints). */
export function policyJson(authority: Pick<Identity, "agent" | "publicKey">, capabilities: string[]): { granted: Record<string, { agent: string; public_key: string }[]> } {
  return { granted: Object.fromEntries(capabilities.map((c) => [c, [{ agent: authority.agent, public_key: toBase64Url(authority.publicKey) }]])) };
}

export interface GrantOptions {
  /** The holder's key id (required: a grant copied out of a registry record grants no one else). */
  holderKeyId: string;
  /** The holder's name; "" leaves the name unbound (the key still binds it). */
  holder?: string;
  ttlMs?: number;
  clock?: Clock;
}

/** A grant of `capability` signed by `authority`: the "fleet1." text an offer carries. */
export function issueGrant(capability: string, authority: Identity, o: GrantOptions): string {
  if (!/^ed25519:[a-z2-7]{32}$/.test(o.holderKeyId)) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "a grant names its holder's key id", { pointer: "/holderKeyId" });
  return issueToken({ audience: grantAudience(capability), scopes: [GRANT_SCOPE], subject: o.holder ?? "", holderKeyId: o.holderKeyId }, authority, {
    clock: o.clock,
    ttlMs: o.ttlMs,
    audienceNamesIssuer: false,
  });
}

/** The authorities' keys, made once per policy entry: the only keys a grant of that capability may be signed with. */
export interface AuthorityKeys {
  keys: StaticKeys;
  keyIds: ReadonlySet<string>;
  names: string;
}

export function authorityKeys(authorities: readonly GrantAuthority[]): AuthorityKeys {
  return { keys: new StaticKeys(authorities), keyIds: new Set(authorities.map((a) => keyIdFor(a.publicKey))), names: authorities.map((a) => a.agent).join(" or ") };
}

/**
 * Verifies `grant` for `capability` offered by `holder` (its name and key id) at the clock's
 * time: 601 forged, 607 issuer not the authority's name, 603 another capability (/audience),
 * an authority the policy does not name (/signature/keyId), no "capability:offer" scope
 * (/scopes), another holder (/subject, /holderKeyId), no holder key, not yet valid, or a use
 * limit (/maxUses: a grant is presented on every connection, so it has none), 602 expired.
 */
export function verifyGrant(grant: string, capability: string, authorities: readonly GrantAuthority[] | AuthorityKeys, holder: { agent: string; keyId: string }, o: { clock?: Clock; skewMs?: number } = {}): TokenClaims {
  const { keys, keyIds } = "keyIds" in authorities ? authorities : authorityKeys(authorities);
  const claims = verifyToken(grant, {
    keys,
    audience: grantAudience(capability),
    trustedIssuer: (keyId) => keyIds.has(keyId),
    scope: GRANT_SCOPE,
    subject: holder.agent,
    holderKeyId: holder.keyId,
    clock: o.clock,
    skewMs: o.skewMs,
  });
  if (!claims.holderKeyId) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "a grant must name its holder's key", { pointer: "/holderKeyId" });
  return claims;
}

/** A verifier's grants: the policy, a clock, and a bounded memo of verdicts (expiry re-checked on every use). */
export class CapabilityGrants {
  private readonly memo = new Map<string, number | FleetError>();
  private readonly authorities: ReadonlyMap<string, AuthorityKeys>;
  constructor(readonly policy: CapabilityPolicy = new Map(), private readonly clock: Clock = systemClock, private readonly skewMs = 120_000, private readonly maxMemo = MAX_GRANT_MEMO) {
    this.authorities = new Map([...policy].map(([name, list]) => [name, authorityKeys(list)]));
  }

  isGranted(capability: string): boolean {
    return this.policy.has(capability);
  }

  /**
   * Throws unless `holder` may offer `c`: an open capability always; a granted one with a grant
   * that verifies (603 at `${pointer}/grant` when it carries none; verifyToken's codes and the
   * token's own pointers otherwise).
   */
  checkOffer(c: Capability, holder: { agent: string; keyId: string }, pointer = ""): void {
    const authorities = this.authorities.get(c.name);
    if (!authorities) return;
    if (!c.grant) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${c.name} is a granted capability: offering it needs a grant from ${authorities.names}`, { pointer: `${pointer}/grant` });
    const key = `${holder.agent}\u0000${holder.keyId}\u0000${c.name}\u0000${c.grant}`;
    const known = this.memo.get(key);
    const now = this.clock.now();
    if (known instanceof FleetError) throw known;
    if (typeof known === "number") {
      if (now - this.skewMs < known) return;
      this.memo.delete(key);
    }
    if (this.memo.size >= this.maxMemo) this.memo.clear();
    try {
      const claims = verifyGrant(c.grant, c.name, authorities, holder, { clock: this.clock, skewMs: this.skewMs });
      this.memo.set(key, Number(claims.expiresAt!.seconds) * 1000 + Math.floor(claims.expiresAt!.nanos / 1e6));
    } catch (e) {
      const err = asFleetError(e, ErrorCode.SECURITY_UNAUTHORIZED, "grant");
      // "Not yet valid" may become valid: only lasting verdicts are remembered.
      if (!/^\/(notBefore|issuedAt)$/.test(err.pointer ?? "")) this.memo.set(key, err);
      throw err;
    }
  }

  /** Whether an agent (its registry record) holds capability `name` with a valid grant, or `name` is open. */
  holds(name: string, record: { agentId: string; keyId: string; capabilities: readonly Capability[] }): boolean {
    if (!this.policy.has(name)) return true;
    for (const c of record.capabilities) {
      if (c.name !== name) continue;
      try {
        this.checkOffer(c, { agent: record.agentId, keyId: record.keyId });
        return true;
      } catch {
        // another offer of the same name may carry a valid grant
      }
    }
    return false;
  }
}

/**
 * The capability a grant names (its audience), read without verifying it: the offering agent
 * attaches each grant to the offer of that capability, and verifiers check it for themselves.
 * 601 when it is not a token, 603 when its audience is not "capability:<name>".
 */
export function grantedCapability(grant: string): string {
  if (!grant.startsWith(TOKEN_PREFIX)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `a grant starts with ${TOKEN_PREFIX}`);
  let audience: string;
  try {
    const token = fromBinary(TokenSchema, fromBase64Url(grant.slice(TOKEN_PREFIX.length), ErrorCode.SECURITY_SIGNATURE_INVALID));
    audience = fromBinary(TokenClaimsSchema, token.claims).audience;
  } catch (e) {
    throw asFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID, "grant");
  }
  if (!audience.startsWith("capability:")) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `not a capability grant (audience ${audience})`, { pointer: "/audience" });
  return audience.slice("capability:".length);
}

/** Capabilities to offer ("name" or "name@version") with each grant attached to the capability it names (added when not listed). */
export function offerWithGrants(capabilities: readonly string[] = [], grants: readonly string[] = []): Capability[] {
  const offered = capabilities.map(parseCapability);
  for (const g of grants) {
    const name = grantedCapability(g);
    const listed = offered.filter((c) => c.name === name);
    if (!listed.length) offered.push(capability(name));
    for (const c of offered) if (c.name === name) c.grant = g;
  }
  return offered;
}
