"""fixtures/trust.json checked from the file alone, as far as this binding implements the rules:
keys, the registry owner signature and its PAE, the heartbeat caps (as the handshake computes
them), the bottles' identities, and the revocation statements' signatures and fields. The
registry merge, bottle relay and revocation verdicts are checked by the TypeScript runtime
(tools/fixtures/meaning-trust.ts); this binding has no replica, relay or pin revocation yet."""
import hashlib
import json
import os

from conftest import FIXTURES
from fleet_protocol import codec, ed25519
from fleet_protocol._proto.fleet.v1 import bottle_pb2, envelope_pb2, registry_pb2, signed_pb2
from fleet_protocol.handshake import HEARTBEAT_CAPS
from fleet_protocol.identity import identity_from_seed
from fleet_protocol.keyid import key_id_for
from fleet_protocol.pae import pae

T = json.load(open(os.path.join(FIXTURES, "trust.json"), encoding="utf-8"))
H = bytes.fromhex
KEYS = {k["key_id"]: H(k["public_key_hex"]) for k in T["keys"]}


def test_keys():
    for k in T["keys"]:
        ident = identity_from_seed(k["agent"], H(k["seed_hex"]))
        assert ident.public_key.hex() == k["public_key_hex"]
        assert key_id_for(ident.public_key) == k["key_id"]
    assert set(T["trusted_agents"]) == {k["agent"] for k in T["keys"]}


def test_registry_owner_signature():
    r = T["registry"]["owner_signed"]
    entry = registry_pb2.RegistryEntry.FromString(H(r["entry_hex"]))
    assert entry.SerializeToString() == H(r["entry_hex"])
    assert entry.version.node == r["owner"] and entry.key == f"agent/{r['owner']}"
    assert pae("fleet.v1.registry.owner", H(r["entry_hash_hex"])).hex() == r["owner_signed_hex"]
    assert entry.owner_signature.key_id == r["key_id"] and entry.owner_signature.sig.hex() == r["sig_hex"]
    assert ed25519.verify(KEYS[r["key_id"]], H(r["owner_signed_hex"]), H(r["sig_hex"]))
    # The client's own hashing and signing give the same bytes.
    from fleet_protocol.client import registry_entry_hash, sign_registry_entry
    assert registry_entry_hash(entry).hex() == r["entry_hash_hex"]
    again = registry_pb2.RegistryEntry.FromString(H(r["entry_hex"]))
    owner = next(k for k in T["keys"] if k["key_id"] == r["key_id"])
    sign_registry_entry(again, identity_from_seed(owner["agent"], H(owner["seed_hex"])))
    assert again.owner_signature.sig.hex() == r["sig_hex"]
    for n in T["registry"]["negative"]:
        registry_pb2.RegistryEntry.FromString(H(n["entry_hex"]))  # every negative is a well-formed entry
        assert n["code"] in (601, 603, 605, 607, 709)


def test_heartbeat_agreement():
    for v in T["heartbeat"]:
        got = {f: min(max(v["hello"][f], v["welcome"][f]), HEARTBEAT_CAPS[f]) for f in HEARTBEAT_CAPS}
        want = v["agreed"]
        # Zero proposals take the defaults (spec/handshake.md); compare only the proposed fields.
        for f in HEARTBEAT_CAPS:
            if got[f]:
                assert got[f] == want[f], (v["name"], f)


def test_bottles_are_named_by_origin_and_id():
    seen = set()
    for b in T["bottles"]["same_id"]:
        bottle = bottle_pb2.Bottle.FromString(H(b["bottle_hex"]))
        env = envelope_pb2.Envelope.FromString(bottle.letter.payload)
        assert env.sender == b["origin"] and env.body.bottle_letter.bottle_id == b["bottle_id"]
        assert ed25519.verify(KEYS[bottle.letter.signature.key_id], pae("fleet.v1.envelope", bottle.letter.payload_type, bottle.letter.payload), bottle.letter.signature.sig)
        seen.add((b["origin"], b["bottle_id"]))
    assert len(seen) == len(T["bottles"]["same_id"])


def test_revocation_statements():
    a = T["revocation"]["applied"]
    se = signed_pb2.SignedEnvelope.FromString(H(a["signed_envelope_hex"]))
    env = envelope_pb2.Envelope.FromString(se.payload)
    rev = env.body.key_revocation
    assert rev.revoked_key_id == a["revoked_key_id"] == se.signature.key_id == env.security.key_id
    assert rev.agent == env.sender
    assert rev.effective_at.seconds * 1000 + rev.effective_at.nanos // 1_000_000 == a["effective_at_ms"]
    assert ed25519.verify(KEYS[se.signature.key_id], pae("fleet.v1.envelope", se.payload_type, se.payload), se.signature.sig)
    for n in T["revocation"]["negative"]:
        se = signed_pb2.SignedEnvelope.FromString(H(n["signed_envelope_hex"]))
        env = envelope_pb2.Envelope.FromString(se.payload)
        bad_signer = se.signature.key_id != env.body.key_revocation.revoked_key_id
        late = env.body.key_revocation.effective_at.ToMilliseconds() > env.created_at.ToMilliseconds()
        assert (n["code"] == 607 and bad_signer) or (n["code"] == 709 and late)
