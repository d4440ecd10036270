"""Owner-signed registry entries (spec/registry.md "Owners" and "Bounds"): what a replica checks
on every remote entry before it merges it, in this order, each failure a FleetError with its
RFC 6901 pointer into the entry's JSON form:

1. version.wall_ms <= the replica's clock + skew (120,000 ms)                    605 /version/wallMs
2. the key's owner wrote it: version.node == owner                               603 /version/node
3. exactly one causal counter (709 /causal), the owner's (603 /causal/0/node),
   count in 1..2^32                                                             709 /causal/0/count
4. owner_signature present, Ed25519, 64 bytes                                    601 /ownerSignature
   its key not revoked (611), known (601)                                       /ownerSignature/keyId
   over PAE("fleet.v1.registry.owner", entry_hash)                              601 /ownerSignature/sig
   the key bound to the owner's name                                            607 /ownerSignature/keyId"""
from __future__ import annotations

import hashlib
from typing import Optional

from . import ed25519
from ._proto.fleet.v1 import registry_pb2, signed_pb2
from .errors import ErrorCode, fail
from .pae import pae
from .signing import PinnedKeys
from .pae import u64be

MAX_CAUSAL_COUNT = 2 ** 32
SKEW_MS = 120_000
DOMAIN_OWNER = "fleet.v1.registry.owner"


def registry_entry_hash(entry: registry_pb2.RegistryEntry) -> bytes:
    """entry_hash of spec/registry.md "Hashes"."""
    kind = entry.WhichOneof("record") or ""
    record = getattr(entry, kind).SerializeToString() if kind else b""
    v = entry.version
    content = hashlib.sha256(pae("fleet.v1.registry.content", entry.key, u64be(v.wall_ms), u64be(v.logical), v.node,
                                 bytes([1 if entry.tombstone else 0]), kind, record)).digest()
    causal = pae("fleet.v1.registry.causal", *[p for c in entry.causal for p in (c.node, u64be(c.count))])
    return hashlib.sha256(pae("fleet.v1.registry.entry", content, causal)).digest()


def owner_of(entry: registry_pb2.RegistryEntry) -> Optional[str]:
    """agent/X, health/X: X; service/S: the record's agent_id, or for a tombstone its version.node."""
    kind, _, rest = entry.key.partition("/")
    if not rest:
        return None
    if kind in ("agent", "health"):
        return rest
    if kind == "service":
        if entry.tombstone:
            return entry.version.node
        return entry.service.agent_id if entry.WhichOneof("record") == "service" else None
    return None


def verify_registry_entry(entry: registry_pb2.RegistryEntry, keys: PinnedKeys, now_ms: int, skew_ms: int = SKEW_MS) -> str:
    """Returns the entry's owner when a replica with `keys` and its clock at now_ms may merge it."""
    if entry.version.wall_ms > now_ms + skew_ms:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_CLOCK_SKEW, f"{entry.key} is versioned {entry.version.wall_ms} ms, beyond {now_ms} + {skew_ms} ms", "/version/wallMs")
    owner = owner_of(entry)
    if not owner or entry.version.node != owner:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED, f"{entry.key} belongs to {owner or 'nobody'}, written by {entry.version.node!r}", "/version/node")
    if len(entry.causal) != 1:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "a replicated entry carries exactly one causal counter, its owner's", "/causal")
    c = entry.causal[0]
    if c.node != owner:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED, f"only {owner} counts writes to {entry.key}", "/causal/0/node")
    if not 1 <= c.count <= MAX_CAUSAL_COUNT:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"causal count must be 1..{MAX_CAUSAL_COUNT}", "/causal/0/count")
    sig = entry.owner_signature
    if not entry.HasField("owner_signature") or sig.scheme != signed_pb2.SIGNATURE_SCHEME_ED25519 or len(sig.sig) != 64:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"{entry.key} carries no Ed25519 owner signature", "/ownerSignature")
    keys._refuse_revoked(sig.key_id)  # 611 where an unknown key would be 601 (spec/signing.md "Revocation")
    pub = keys.keys.get(sig.key_id)
    if pub is None:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"unknown owner key {sig.key_id}", "/ownerSignature/keyId")
    if not ed25519.verify(pub, pae(DOMAIN_OWNER, registry_entry_hash(entry)), sig.sig):
        raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"owner signature of {entry.key} does not verify", "/ownerSignature/sig")
    if keys.key_id_of(owner) != sig.key_id:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{sig.key_id} is not {owner}'s key", "/ownerSignature/keyId")
    return owner
