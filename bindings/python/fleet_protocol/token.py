"""Tokens (spec/tokens.md): "fleet1." + base64url(Token), Ed25519 over PAE("fleet.v1.token", ...)."""
from __future__ import annotations

import re
import secrets as _secrets
from typing import Callable, Optional, Protocol

from . import codec, ed25519
from ._proto.fleet.v1 import signed_pb2, token_pb2
from .errors import ErrorCode, FleetError, fail
from .identity import Identity, b64url, from_b64url
from .pae import pae
from .signing import PinnedKeys, now_ms, timestamp, ts_ms

PREFIX = "fleet1."
CLAIMS_TYPE = "application/vnd.fleet.v1.token-claims+proto"
MAX_TEXT = 8192
DEFAULT_SKEW_MS = 120_000


class TokenUseStore(Protocol):
    def consume(self, token_id: str, max_uses: int, keep_until_ms: int) -> bool: ...


class MemoryTokenUseStore:
    """In-process use counts, bounded to ``capacity`` live tokens (expired records are swept first; full: 804)."""

    def __init__(self, capacity: int = 65_536, clock: Callable[[], int] = now_ms) -> None:
        self.capacity, self.clock = capacity, clock
        self._uses: dict[str, tuple[int, int]] = {}

    def consume(self, token_id: str, max_uses: int, keep_until_ms: int) -> bool:
        now = self.clock()
        if token_id not in self._uses and len(self._uses) >= self.capacity:
            for k in [k for k, (_, until) in self._uses.items() if until <= now]:
                del self._uses[k]
            if len(self._uses) >= self.capacity:
                raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, "token use store full")
        used, _ = self._uses.get(token_id, (0, keep_until_ms))
        if used >= max_uses:
            return False
        self._uses[token_id] = (used + 1, keep_until_ms)
        return True


def issue_token(identity: Identity, *, audience: str, scopes: list[str], subject: str = "", ttl_ms: int = 3_600_000,
                max_uses: int = 0, token_id: Optional[str] = None, clock: Callable[[], int] = now_ms) -> str:
    now = clock()
    claims = token_pb2.TokenClaims(token_id=token_id or _secrets.token_hex(16), issuer=identity.agent, subject=subject, audience=audience,
                                   scopes=scopes, issued_at=timestamp(now), expires_at=timestamp(now + ttl_ms), max_uses=max_uses)
    cb = codec.encode(claims)
    sig = identity.sign(pae("fleet.v1.token", CLAIMS_TYPE, cb))
    tok = token_pb2.Token(claims=cb, signature=signed_pb2.Signature(scheme=signed_pb2.SIGNATURE_SCHEME_ED25519, key_id=identity.key_id, sig=sig))
    return PREFIX + b64url(codec.encode(tok))


def verify_token(text: str, *, keys: PinnedKeys, audience: str, scope: Optional[str] = None, subject: Optional[str] = None,
                 clock: Callable[[], int] = now_ms, skew_ms: int = DEFAULT_SKEW_MS, uses: Optional[TokenUseStore] = None,
                 holder_key_id: Optional[str] = None, trusted_issuer: Optional[Callable[[str], bool]] = None) -> token_pb2.TokenClaims:
    """``trusted_issuer`` only for an audience naming no key (group invites, "group:<name>"): which
    signing key ids may issue for it, decided from signed state the verifier holds (spec/tokens.md,
    "Audience and trusted issuer"). An audience naming a key ignores it."""
    bad = ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID
    # 0. the verifier's audience is "<service>:<its key id>" (spec/tokens.md), or it brings a trusted-issuer rule
    at = audience.find(":")
    trusted = audience[at + 1:] if at > 0 else ""
    if not re.fullmatch(r"ed25519:[a-z2-7]{32}", trusted):
        trusted = ""
    if not trusted and trusted_issuer is None:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED, "the verifier's audience must name its key id", "/audience")
    # 1. text, canonical base64url, one encoding
    if not isinstance(text, str) or not text.startswith(PREFIX) or len(text) > MAX_TEXT:
        raise fail(bad, "not a fleet1 token")
    raw = from_b64url(text[len(PREFIX):], bad)
    try:
        tok = codec.decode(token_pb2.Token, raw, check=False)
    except FleetError:
        raise fail(bad, "token bytes do not parse") from None
    if codec.encode(tok, check=False) != raw:
        raise fail(bad, "token is not in its one encoding")
    # 2. signature
    sig = tok.signature
    if sig.scheme != signed_pb2.SIGNATURE_SCHEME_ED25519 or len(sig.sig) != 64:
        raise fail(bad, "token signature is not Ed25519")
    pub = keys.keys.get(sig.key_id)
    if pub is None:
        raise fail(bad, f"unknown token signer {sig.key_id}", "/signature/keyId")
    if not ed25519.verify(pub, pae("fleet.v1.token", CLAIMS_TYPE, tok.claims), sig.sig):
        raise fail(bad, "token signature does not verify")
    claims = codec.decode(token_pb2.TokenClaims, tok.claims)
    # 3. issuer bound to the key
    if keys.pins.get(claims.issuer) != sig.key_id:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"issuer {claims.issuer} is not bound to the signing key", "/issuer")
    # 4. audience, scope, subject
    denied = ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED
    if claims.audience != audience:
        raise fail(denied, "token is for another audience", "/audience")
    if (sig.key_id != trusted) if trusted else not trusted_issuer(sig.key_id):
        raise fail(denied, "only the key the audience names issues its tokens", "/signature/keyId")
    if scope is not None and scope not in claims.scopes:
        raise fail(denied, f"token lacks scope {scope}", "/scopes")
    if claims.subject and subject is not None and claims.subject != subject:
        raise fail(denied, "token names another subject", "/subject")
    if "hub:connect" in claims.scopes and not claims.holder_key_id:
        raise fail(denied, "an admission token names its holder's key", "/holderKeyId")
    if claims.holder_key_id and claims.holder_key_id != holder_key_id:
        raise fail(denied, "token is bound to another key", "/holderKeyId")
    # 5. time
    now = clock()
    if now - skew_ms >= ts_ms(claims.expires_at):
        raise fail(ErrorCode.ERROR_CODE_SECURITY_TOKEN_EXPIRED, "token expired", "/expiresAt")
    nb = ts_ms(claims.not_before) if claims.HasField("not_before") else ts_ms(claims.issued_at)
    if now + skew_ms < nb:
        raise fail(denied, "token not yet valid", "/notBefore" if claims.HasField("not_before") else "/issuedAt")
    # 6. uses
    if claims.max_uses > 0:
        if uses is None:
            raise fail(denied, "a use-limited token needs a use store", "/maxUses")
        if not uses.consume(claims.token_id, claims.max_uses, ts_ms(claims.expires_at) + skew_ms):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_TOKEN_USED, "token used up", "/maxUses")
    return claims
