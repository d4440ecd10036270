// Tokens (spec/tokens.md): "fleet1." + base64url(Token), where Token carries the exact
// TokenClaims bytes and the issuer's Ed25519 signature over
// PAE("fleet.v1.token", "application/vnd.fleet.v1.token-claims+proto", claims).
// Verification: shape, signature, issuer binding, audience, scope, time (with skew),
// and only then a use is consumed from the TokenUseStore (single-use limits).
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
 * expires_at = now + 1 h. audience and at least one scope are required.
 */
export function issueToken(claims: Partial<TokenClaimsInit>, issuer: Identity, opts: { clock?: Clock; ttlMs?: number } = {}): string {
  const now = (opts.clock ?? systemClock).now();
  if (claims.issuer && claims.issuer !== issuer.agent) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `issuer ${claims.issuer} is not the signing identity ${issuer.agent}`, { pointer: "/issuer" });
  }
  if (!claims.audience) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "audience is required", { pointer: "/audience" });
  if (!claims.scopes || claims.scopes.length === 0) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "at least one scope is required", { pointer: "/scopes" });
  const full = create(TokenClaimsSchema, {
    ...claims,
    tokenId: claims.tokenId || toBase64Url(randomBytes(16)),
    issuer: issuer.agent,
    issuedAt: claims.issuedAt ?? timestampFromMs(now),
    expiresAt: claims.expiresAt ?? timestampFromMs(now + (opts.ttlMs ?? DEFAULT_TOKEN_TTL_MS)),
  });
  const claimBytes = encodeMessage(TokenClaimsSchema, full);
  const token = create(TokenSchema, {
    claims: claimBytes,
    signature: { scheme: SignatureScheme.ED25519, keyId: issuer.keyId, sig: issuer.sign(tokenSigningBytes(claimBytes)) },
  });
  return TOKEN_PREFIX + toBase64Url(toBinary(TokenSchema, token));
}

export interface VerifyTokenOptions {
  keys: KeyResolver;
  /** This service's audience; the token's must equal it (603). */
  audience: string;
  /** A scope the token must grant (603). */
  scope?: string;
  /** The presenting agent; when the token names a subject it must match (603). */
  subject?: string;
  clock?: Clock;
  /** Allowed clock difference for expires_at / not_before (default 120 s). */
  skewMs?: number;
  /** Required for tokens with max_uses > 0 (otherwise 603: a limit that cannot be enforced is refused). */
  uses?: TokenUseStore;
}

const invalid = (message: string, pointer = "") => new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, message, { pointer });
const unauthorized = (message: string, pointer = "") => new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, message, { pointer });

/** Returns the claims or throws: 601 malformed/unsigned, 607 issuer not bound to key, 603 audience/scope/subject/not-yet-valid, 602 expired, 608 used up. */
export function verifyToken(text: string, opts: VerifyTokenOptions): TokenClaims {
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
  if (opts.scope !== undefined && !claims.scopes.includes(opts.scope)) throw unauthorized(`token does not grant ${opts.scope}`, "/scopes");
  if (claims.subject && opts.subject !== undefined && claims.subject !== opts.subject) throw unauthorized(`token is for ${claims.subject}`, "/subject");

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
