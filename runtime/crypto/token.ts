// Tokens (spec/tokens.md): "fleet1." + base64url(Token), where Token carries the exact
// TokenClaims bytes and the issuer's Ed25519 signature over
// PAE("fleet.v1.token", "application/vnd.fleet.v1.token-claims+proto", claims).
// Verification: shape, signature, issuer binding, audience (the verifier's own key id) and
// trusted issuer (the key that audience names), scope, subject, holder key, time (with
// skew), and only then a use is consumed from the TokenUseStore (single-use limits).
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { TokenClaimsSchema, TokenSchema, type TokenClaims } from "../../generated/proto/fleet/v1/token_pb.js";
import { systemClock, type Clock } from "../clock.js";
import { decodeMessage, encodeMessage, parseMessage } from "../codec/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { constantTimeEqual, fromBase64Url, randomBytes, toBase64Url } from "./bytes.js";
import { ED25519_SIG_BYTES, verifyEd25519 } from "./ed25519.js";
import type { Identity } from "./identity.js";
import type { KeyResolver } from "./keys.js";
import { Domain, pae } from "./pae.js";
import { DEFAULT_SKEW_MS } from "./replay.js";

export const TOKEN_PREFIX = "fleet1.";
export const TOKEN_CLAIMS_TYPE = "application/vnd.fleet.v1.token-claims+proto";
export const DEFAULT_TOKEN_TTL_MS = 3_600_000;
/** Longer text is refused before decoding (a token is a few hundred bytes). */
export const MAX_TOKEN_CHARS = 8192;
/** The scope of hub admission tokens; tokens granting it must name holder_key_id. */
export const ADMISSION_SCOPE = "hub:connect";

const KEY_ID = /^ed25519:[a-z2-7]{32}$/;

/** "<service>:<key id>": the audience of a verifier whose key is keyId (e.g. tokenAudience("hub", id.keyId)). */
export function tokenAudience(service: string, keyId: string): string {
  return `${service}:${keyId}`;
}

/** The key id an audience names (its text after the first ":"), or undefined when it names none. */
export function audienceKeyId(audience: string): string | undefined {
  const at = audience.indexOf(":");
  const keyId = at > 0 ? audience.slice(at + 1) : "";
  return KEY_ID.test(keyId) ? keyId : undefined;
}

export type { TokenClaims };
export type TokenClaimsInit = Omit<MessageInitShape<typeof TokenClaimsSchema>, "$typeName">;

/** Counts uses of limited tokens. The hub persists it; MemoryTokenUseStore is the in-process one. */
export interface TokenUseStore {
  /** Records one use; false when tokenId already has maxUses uses. Keep the record until forgetAfterMs. */
  consume(tokenId: string, maxUses: number, forgetAfterMs: number): boolean;
}

export class MemoryTokenUseStore implements TokenUseStore {
  private readonly uses = new Map<string, { count: number; until: number }>();
  constructor(private readonly clock: Clock = systemClock, private readonly maxEntries = 100_000) {}

  consume(tokenId: string, maxUses: number, forgetAfterMs: number): boolean {
    const entry = this.uses.get(tokenId);
    if (entry) {
      if (entry.count >= maxUses) return false;
      entry.count++;
      return true;
    }
    if (this.uses.size >= this.maxEntries) {
      const now = this.clock.now();
      for (const [id, e] of this.uses) if (e.until < now) this.uses.delete(id);
      // Forgetting a live entry would let its token be reused: refuse instead.
      if (this.uses.size >= this.maxEntries) throw new FleetError(ErrorCode.DELIVERY_BUSY, "token use store is full");
    }
    this.uses.set(tokenId, { count: 1, until: forgetAfterMs });
    return maxUses >= 1;
  }
}

export function tokenSigningBytes(claims: Uint8Array): Uint8Array {
  return pae(Domain.token, TOKEN_CLAIMS_TYPE, claims);
}

/**
 * Issues a token. Defaults: token_id random, issuer = the identity's agent, issued_at = now,
 * expires_at = now + 1 h. audience and at least one scope are required; the audience must
 * name the issuer's own key (only a verifier issues the tokens it accepts), and an admission
 * token (scope "hub:connect") must name its holder's key id. With `audienceNamesIssuer: false`
 * the audience must name no key instead (group invites: the verifier decides from signed state
 * which keys may issue for it, spec/tokens.md).
 */
export function issueToken(claims: Partial<TokenClaimsInit>, issuer: Identity, opts: { clock?: Clock; ttlMs?: number; audienceNamesIssuer?: boolean } = {}): string {
  const now = (opts.clock ?? systemClock).now();
  if (claims.issuer && claims.issuer !== issuer.agent) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `issuer ${claims.issuer} is not the signing identity ${issuer.agent}`, { pointer: "/issuer" });
  }
  if (!claims.audience) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "audience is required", { pointer: "/audience" });
  if (opts.audienceNamesIssuer === false) {
    if (audienceKeyId(claims.audience) !== undefined) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "an audience naming a key is issued only by that key", { pointer: "/audience" });
  } else if (audienceKeyId(claims.audience) !== issuer.keyId) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `audience must be "<service>:${issuer.keyId}": a token is issued by the key that verifies it`, { pointer: "/audience" });
  }
  if (!claims.scopes || claims.scopes.length === 0) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "at least one scope is required", { pointer: "/scopes" });
  if (claims.scopes.includes(ADMISSION_SCOPE) && !KEY_ID.test(claims.holderKeyId ?? "")) {
    throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "an admission token names its holder's key id", { pointer: "/holderKeyId" });
  }
  const full = create(TokenClaimsSchema, {
    ...claims,
    tokenId: claims.tokenId || toBase64Url(randomBytes(16)),
    issuer: issuer.agent,
    issuedAt: claims.issuedAt ?? timestampFromMs(now),
    expiresAt: claims.expiresAt ?? timestampFromMs(now + (opts.ttlMs ?? DEFAULT_TOKEN_TTL_MS)),
  });
  return signTokenClaims(full, issuer);
}

/** Signs claims exactly as given, without issueToken's policy checks (vectors and tests of refusals use it). */
export function signTokenClaims(claims: TokenClaims, issuer: Identity): string {
  const claimBytes = encodeMessage(TokenClaimsSchema, claims);
  const token = create(TokenSchema, {
    claims: claimBytes,
    signature: { scheme: SignatureScheme.ED25519, keyId: issuer.keyId, sig: issuer.sign(tokenSigningBytes(claimBytes)) },
  });
  return TOKEN_PREFIX + toBase64Url(toBinary(TokenSchema, token));
}

export interface VerifyTokenOptions {
  keys: KeyResolver;
  /** This service's audience, "<service>:<its own key id>"; the token's must equal it and be signed by that key (603). */
  audience: string;
  /**
   * Only for an audience that names no key (group invites, "group:<name>"): which signing keys the
   * verifier trusts to issue for it, decided from signed state it holds (spec/tokens.md). An
   * audience naming a key ignores it: that key is the only trusted issuer.
   */
  trustedIssuer?: (keyId: string) => boolean;
  /** A scope the token must grant (603). */
  scope?: string;
  /** The presenting agent; when the token names a subject it must match (603). */
  subject?: string;
  /** The key id that authenticated the presenter (the hub: the Hello's signing key); a token naming holder_key_id must match it (603). */
  holderKeyId?: string;
  clock?: Clock;
  /** Allowed clock difference for expires_at / not_before (default 120 s). */
  skewMs?: number;
  /** Required for tokens with max_uses > 0 (otherwise 603: a limit that cannot be enforced is refused). */
  uses?: TokenUseStore;
}

const invalid = (message: string, pointer = "") => new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, message, { pointer });
const unauthorized = (message: string, pointer = "") => new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, message, { pointer });

/** Returns the claims or throws: 601 malformed/unsigned, 607 issuer not bound to key, 603 audience/issuer/scope/subject/holder/not-yet-valid, 602 expired, 608 used up. */
export function verifyToken(text: string, opts: VerifyTokenOptions): TokenClaims {
  const trusted = audienceKeyId(opts.audience);
  const trustedIssuer = opts.trustedIssuer;
  if (!trusted && !trustedIssuer) throw unauthorized(`the verifier's audience must be "<service>:<its key id>", not ${JSON.stringify(opts.audience)}`, "/audience");
  if (typeof text !== "string" || !text.startsWith(TOKEN_PREFIX)) throw invalid(`a token starts with "${TOKEN_PREFIX}"`);
  if (text.length > MAX_TOKEN_CHARS) throw invalid("token is too long");
  const bytes = fromBase64Url(text.slice(TOKEN_PREFIX.length), ErrorCode.SECURITY_SIGNATURE_INVALID);
  let token;
  try {
    token = parseMessage(TokenSchema, bytes);
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "token is not a fleet.v1.Token", { cause: e });
  }
  // One token, one encoding: extra or reordered fields would let a copy differ from the original.
  if (!constantTimeEqual(toBinary(TokenSchema, token), bytes)) throw invalid("token is not canonically encoded");
  const sig = token.signature;
  if (!sig || sig.scheme !== SignatureScheme.ED25519) throw invalid("token must be signed with Ed25519", "/signature/scheme");
  if (sig.sig.length !== ED25519_SIG_BYTES) throw invalid(`signature must be ${ED25519_SIG_BYTES} bytes`, "/signature/sig");
  const publicKey = opts.keys.resolve(sig.keyId);
  if (!publicKey) throw invalid(`unknown issuer key ${sig.keyId}`, "/signature/keyId");
  if (!verifyEd25519(publicKey, tokenSigningBytes(token.claims), sig.sig)) throw invalid("token signature does not verify", "/signature/sig");

  const claims = decodeMessage(TokenClaimsSchema, token.claims);
  opts.keys.checkBinding(claims.issuer, sig.keyId);
  if (claims.audience !== opts.audience) throw unauthorized(`token is for ${claims.audience}, not ${opts.audience}`, "/audience");
  // The trusted issuer of an audience is the key it names: no other key, pinned or not, mints tokens for it.
  if (trusted ? sig.keyId !== trusted : !trustedIssuer!(sig.keyId)) throw unauthorized(`${sig.keyId} may not issue tokens for ${opts.audience}`, "/signature/keyId");
  if (opts.scope !== undefined && !claims.scopes.includes(opts.scope)) throw unauthorized(`token does not grant ${opts.scope}`, "/scopes");
  if (claims.subject && opts.subject !== undefined && claims.subject !== opts.subject) throw unauthorized(`token is for ${claims.subject}`, "/subject");
  if (claims.scopes.includes(ADMISSION_SCOPE) && !claims.holderKeyId) throw unauthorized("an admission token must name its holder's key", "/holderKeyId");
  if (claims.holderKeyId && claims.holderKeyId !== opts.holderKeyId) {
    throw unauthorized(opts.holderKeyId === undefined ? "token is bound to a holder key, and the presenter's key is unknown" : `token is bound to ${claims.holderKeyId}, not ${opts.holderKeyId}`, "/holderKeyId");
  }

  const now = (opts.clock ?? systemClock).now();
  const skew = opts.skewMs ?? DEFAULT_SKEW_MS;
  if (!claims.expiresAt) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "expires_at is required", { pointer: "/expiresAt" });
  const expires = timestampMs(claims.expiresAt);
  if (now - skew >= expires) throw new FleetError(ErrorCode.SECURITY_TOKEN_EXPIRED, "token expired", { pointer: "/expiresAt" });
  const notBefore = claims.notBefore ?? claims.issuedAt;
  if (notBefore && now + skew < timestampMs(notBefore)) throw unauthorized("token is not valid yet", claims.notBefore ? "/notBefore" : "/issuedAt");

  if (claims.maxUses > 0) {
    if (!opts.uses) throw unauthorized("token has a use limit but no use store was given to enforce it", "/maxUses");
    if (!opts.uses.consume(claims.tokenId, claims.maxUses, expires + skew)) {
      throw new FleetError(ErrorCode.SECURITY_TOKEN_USED, `token ${claims.tokenId} has been used ${claims.maxUses} time(s)`, { pointer: "/maxUses" });
    }
  }
  return claims;
}
