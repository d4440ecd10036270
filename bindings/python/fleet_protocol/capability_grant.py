"""Granted capabilities (spec/capabilities.md): a capability the fleet's policy names is offered
only with a grant, a token (spec/tokens.md) with audience "capability:<name>" and scope
"capability:offer", signed by one of the capability's authorities (whose keys are the only ones
known for it), bound to the offering agent's key (holder_key_id, required) and, when it names a
subject, to its name. A grant has no use limit."""
from __future__ import annotations

from typing import Callable, Iterable

from ._proto.fleet.v1 import token_pb2
from .errors import ErrorCode, fail
from .signing import PinnedKeys, now_ms
from .token import DEFAULT_SKEW_MS, verify_token

SCOPE = "capability:offer"


def verify_grant(grant: str, capability: str, authorities: Iterable[tuple[str, bytes]], holder: str, holder_key_id: str, *,
                 clock: Callable[[], int] = now_ms, skew_ms: int = DEFAULT_SKEW_MS) -> token_pb2.TokenClaims:
    """Checks an offer of a granted capability: 603 at /grant without one, else verify_token's
    codes and the token's pointers; a grant naming no holder key is 603 /holderKeyId."""
    if not grant:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED, f"{capability} is a granted capability: offering it needs a grant", "/grant")
    keys = PinnedKeys(trust_on_first_use=False)
    for agent, public_key in authorities:
        keys.pin(agent, public_key)
    trusted = set(keys.keys)
    claims = verify_token(grant, keys=keys, audience=f"capability:{capability}", scope=SCOPE, subject=holder,
                          holder_key_id=holder_key_id, trusted_issuer=lambda kid: kid in trusted, clock=clock, skew_ms=skew_ms)
    if not claims.holder_key_id:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED, "a grant must name its holder's key", "/holderKeyId")
    return claims
