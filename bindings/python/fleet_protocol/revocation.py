"""Key revocation (spec/signing.md "Revocation"): a KeyRevocation is applied only when it was sent
by the agent itself (607), signed by the very key it revokes (607), which is the agent's currently
pinned key (607), and its effective_at is set and not later than the envelope's created_at (709).
A refused statement changes nothing; an applied one unbinds the name and records the key as revoked
for good (PinnedKeys.revoke: signatures by it, pins of it are then refused with 611)."""
from __future__ import annotations

from dataclasses import dataclass

from ._proto.fleet.v1 import envelope_pb2
from .errors import ErrorCode, fail
from .signing import PinnedKeys, ts_ms

AT = "/body/keyRevocation"


@dataclass(frozen=True)
class AppliedRevocation:
    agent: str
    key_id: str
    effective_at_ms: int


def check_revocation(env: envelope_pb2.Envelope, keys: PinnedKeys) -> AppliedRevocation:
    """The statement's verdict for an envelope already opened (signature verified); changes nothing."""
    if not env.HasField("body") or env.body.WhichOneof("kind") != "key_revocation":
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "not a KeyRevocation", "/body")
    rev = env.body.key_revocation
    if rev.agent != env.sender:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{env.sender} cannot revoke {rev.agent}'s key", f"{AT}/agent")
    if env.security.key_id != rev.revoked_key_id:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, "a revocation is signed by the key it revokes", f"{AT}/revokedKeyId")
    if keys.key_id_of(rev.agent) != rev.revoked_key_id:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{rev.revoked_key_id} is not {rev.agent}'s pinned key", f"{AT}/revokedKeyId")
    if not rev.HasField("effective_at") or ts_ms(rev.effective_at) > ts_ms(env.created_at):
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "effective_at must be set and not later than created_at", f"{AT}/effectiveAt")
    return AppliedRevocation(rev.agent, rev.revoked_key_id, ts_ms(rev.effective_at))


def apply_revocation(env: envelope_pb2.Envelope, keys: PinnedKeys) -> AppliedRevocation:
    """Checks the statement, then unbinds the name and records the key as revoked (804 if the table is full)."""
    applied = check_revocation(env, keys)
    keys.revoke(applied.key_id, applied.effective_at_ms)
    return applied
