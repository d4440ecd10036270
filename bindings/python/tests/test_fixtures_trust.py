"""fixtures/trust.json checked from the file alone, every vector with its exact verdict:
keys, the registry owner-signed entry (accepted) and each negative (its code and pointer, nothing
else accepted), the bottles' identities (both accepted, neither a duplicate of the other, a second
copy of either a duplicate), the heartbeat agreement computed by both sides (zero = default,
larger wins, caps), and the revocation statements (negatives refused with their code and change
nothing; the applied one unbinds the name and its key is then refused with 611), and capability
grants (valid ones accepted, negatives refused with their code and pointer)."""
import json
import os

import pytest

from conftest import FIXTURES
from fleet_protocol import ed25519
from fleet_protocol._proto.fleet.v1 import bottle_pb2, envelope_pb2, handshake_pb2, registry_pb2, signed_pb2
from fleet_protocol.capability_grant import verify_grant
from fleet_protocol.bottle_identity import BottleIds, accept_bottle, bottle_key
from fleet_protocol.errors import FleetError, code_name
from fleet_protocol.heartbeat import FIELDS, agree_heartbeat
from fleet_protocol.identity import identity_from_seed
from fleet_protocol.keyid import key_id_for
from fleet_protocol.pae import pae
from fleet_protocol.registry_owner import registry_entry_hash, verify_registry_entry
from fleet_protocol.revocation import apply_revocation
from fleet_protocol.replay import ReplayGuard
from fleet_protocol.signing import PinnedKeys, VerifyContext, open_signed, ts_ms

T = json.load(open(os.path.join(FIXTURES, "trust.json"), encoding="utf-8"))
H = bytes.fromhex
KEYS = {k["key_id"]: H(k["public_key_hex"]) for k in T["keys"]}


def pinned() -> PinnedKeys:
    """A verifier that pins every trusted agent's key to its name (no trust on first use)."""
    p = PinnedKeys(trust_on_first_use=False)
    for k in T["keys"]:
        if k["agent"] in T["trusted_agents"]:
            p.pin(k["agent"], H(k["public_key_hex"]))
    return p


def test_keys():
    for k in T["keys"]:
        ident = identity_from_seed(k["agent"], H(k["seed_hex"]))
        assert ident.public_key.hex() == k["public_key_hex"]
        assert key_id_for(ident.public_key) == k["key_id"]
    assert set(T["trusted_agents"]) == {k["agent"] for k in T["keys"]}


def test_registry_owner_signed_entry_is_accepted():
    r = T["registry"]["owner_signed"]
    entry = registry_pb2.RegistryEntry.FromString(H(r["entry_hex"]))
    assert entry.SerializeToString() == H(r["entry_hex"])
    assert registry_entry_hash(entry).hex() == r["entry_hash_hex"]
    assert pae("fleet.v1.registry.owner", H(r["entry_hash_hex"])).hex() == r["owner_signed_hex"]
    assert entry.owner_signature.key_id == r["key_id"] and entry.owner_signature.sig.hex() == r["sig_hex"]
    assert ed25519.verify(KEYS[r["key_id"]], H(r["owner_signed_hex"]), H(r["sig_hex"]))
    assert verify_registry_entry(entry, pinned(), r["now_ms"]) == r["owner"]
    # The client's own signing gives the same bytes.
    from fleet_protocol.client import sign_registry_entry
    again = registry_pb2.RegistryEntry.FromString(H(r["entry_hex"]))
    owner = next(k for k in T["keys"] if k["key_id"] == r["key_id"])
    sign_registry_entry(again, identity_from_seed(owner["agent"], H(owner["seed_hex"])))
    assert again.owner_signature.sig.hex() == r["sig_hex"]


@pytest.mark.parametrize("n", T["registry"]["negative"], ids=lambda n: n["name"])
def test_registry_negative_refused_with_code_and_pointer(n):
    assert code_name(n["code"]) == n["code_name"]
    entry = registry_pb2.RegistryEntry.FromString(H(n["entry_hex"]))
    with pytest.raises(FleetError) as e:
        verify_registry_entry(entry, pinned(), n["now_ms"])
    assert (e.value.code, e.value.pointer) == (n["code"], n["pointer"]), str(e.value)


def test_registry_refuses_a_revoked_owner_key_with_611():
    r = T["registry"]["owner_signed"]
    keys = pinned()
    keys.revoke(r["key_id"], r["now_ms"])
    with pytest.raises(FleetError) as e:
        verify_registry_entry(registry_pb2.RegistryEntry.FromString(H(r["entry_hex"])), keys, r["now_ms"])
    assert e.value.code == 611


def test_bottles_are_named_by_origin_and_id():
    keys, seen, now = pinned(), BottleIds(), T["bottles"]["now_ms"]
    for b in T["bottles"]["same_id"]:
        got = accept_bottle(bottle_pb2.Bottle.FromString(H(b["bottle_hex"])), keys, seen, lambda: now)
        assert got == (b["origin"], b["bottle_id"], False), b
    for b in T["bottles"]["same_id"]:
        assert accept_bottle(bottle_pb2.Bottle.FromString(H(b["bottle_hex"])), keys, seen, lambda: now)[2] is True
    assert len(seen) == len(T["bottles"]["same_id"])
    assert bottle_key("a/b", "c") != bottle_key("a", "b/c")


def test_bottle_ids_are_bounded():
    seen = BottleIds(limit=3)
    for i in range(5):
        assert seen.accept("o", f"b{i}") is False
    assert len(seen) == 3 and seen.accept("o", "b4") is True and seen.accept("o", "b0") is False


def hb(v) -> handshake_pb2.HeartbeatParams:
    return handshake_pb2.HeartbeatParams(**{f: v[f] for f in FIELDS})


@pytest.mark.parametrize("v", T["heartbeat"], ids=lambda v: v["name"])
def test_heartbeat_agreement(v):
    want = {f: v["agreed"][f] for f in FIELDS}
    for mine, theirs in ((v["hello"], v["welcome"]), (v["welcome"], v["hello"])):  # initiator and responder
        got = agree_heartbeat(hb(mine), hb(theirs))
        assert {f: getattr(got, f) for f in FIELDS} == want


def test_heartbeat_unordered_proposal_is_refused():
    with pytest.raises(FleetError) as e:
        agree_heartbeat(hb({"interval_ms": 0, "degraded_after_ms": 20_000, "suspect_after_ms": 0, "dead_after_ms": 0}), hb({f: 0 for f in FIELDS}))
    assert e.value.code == 709


def open_statement(hex_: str, keys: PinnedKeys, now: int) -> envelope_pb2.Envelope:
    return open_signed(signed_pb2.SignedEnvelope.FromString(H(hex_)), VerifyContext(keys=keys, replay=ReplayGuard(), clock=lambda: now))


def sender_of(hex_: str) -> str:
    return envelope_pb2.Envelope.FromString(signed_pb2.SignedEnvelope.FromString(H(hex_)).payload).sender


@pytest.mark.parametrize("n", T["revocation"]["negative"], ids=lambda n: n["name"])
def test_revocation_negative_refused_and_changes_nothing(n):
    assert code_name(n["code"]) == n["code_name"]
    keys = pinned()
    before = (dict(keys.pins), dict(keys.keys), dict(keys.revoked))
    with pytest.raises(FleetError) as e:
        apply_revocation(open_statement(n["signed_envelope_hex"], keys, T["revocation"]["now_ms"]), keys)
    assert e.value.code == n["code"], str(e.value)
    assert (keys.pins, keys.keys, keys.revoked) == before
    assert keys.key_id_of(sender_of(n["signed_envelope_hex"])) is not None


def test_revocation_applied_and_after():
    a, now = T["revocation"]["applied"], T["revocation"]["now_ms"]
    keys = pinned()
    applied = apply_revocation(open_statement(a["signed_envelope_hex"], keys, now), keys)
    assert (applied.key_id, applied.effective_at_ms) == (a["revoked_key_id"], a["effective_at_ms"])
    agent = sender_of(a["signed_envelope_hex"])
    # after: the name is bound to no key, a signature by the revoked key is refused with 611, and
    # pinning it under any name is refused with 611.
    assert keys.key_id_of(agent) is None
    with pytest.raises(FleetError) as e:
        open_statement(a["signed_envelope_hex"], keys, now)
    assert e.value.code == 611
    for name in (agent, "anyone"):
        with pytest.raises(FleetError) as e:
            keys.pin(name, KEYS[a["revoked_key_id"]])
        assert e.value.code == 611
    # The other agents' pins are untouched.
    assert all(keys.key_id_of(k["agent"]) == k["key_id"] for k in T["keys"] if k["key_id"] != a["revoked_key_id"])


def test_revoked_table_is_bounded(monkeypatch):
    from fleet_protocol import signing
    monkeypatch.setattr(signing, "MAX_REVOKED", 2)
    keys = PinnedKeys()
    keys.revoke("k1", 0)
    keys.revoke("k2", 0)
    keys.revoke("k1", 0)  # already recorded: no new row
    with pytest.raises(FleetError) as e:
        keys.revoke("k3", 0)
    assert e.value.code == 804 and set(keys.revoked) == {"k1", "k2"}


G = T["capability_grants"]
AUTHORITIES = [(a["agent"], H(a["public_key_hex"])) for a in G["authorities"]]


def test_capability_grant_authorities():
    for a in G["authorities"]:
        assert key_id_for(H(a["public_key_hex"])) == a["key_id"]


@pytest.mark.parametrize("v", G["valid"], ids=lambda v: v["name"])
def test_capability_grant_accepted(v):
    claims = verify_grant(v["grant"], v["capability"], AUTHORITIES, v["holder"], v["holder_key_id"], clock=lambda: G["now_ms"])
    assert claims.holder_key_id == v["holder_key_id"]


@pytest.mark.parametrize("n", G["negative"], ids=lambda n: n["name"])
def test_capability_grant_refused_with_code_and_pointer(n):
    assert code_name(n["code"]) == n["code_name"]
    with pytest.raises(FleetError) as e:
        verify_grant(n["grant"], n["capability"], AUTHORITIES, n["holder"], n["holder_key_id"], clock=lambda: G["now_ms"])
    assert (e.value.code, e.value.pointer) == (n["code"], n["pointer"])
