"""fixtures/groups.json checked from the file alone (spec/groups.md): every key from its seed, every
chain statement's bytes, signed bytes and signature, the state the chain folds to, and every
negative statement refused with its exact code and pointer after folding its `applied` statements,
leaving the state as it was."""
import json
import os

import pytest

from conftest import FIXTURES
from fleet_protocol import codec, ed25519
from fleet_protocol._proto.fleet.v1 import group_pb2
from fleet_protocol.errors import FleetError, code_name
from fleet_protocol.groups import (KeyHistory, apply_statement, check_send, fold_group, may_send, open_statement,
                                   statement_signing_bytes)
from fleet_protocol.identity import identity_from_seed
from fleet_protocol.keyid import key_id_for

G = json.load(open(os.path.join(FIXTURES, "groups.json"), encoding="utf-8"))
H = bytes.fromhex
CHAIN = [H(c["signed_statement_hex"]) for c in G["chain"]]


def history() -> KeyHistory:
    h = KeyHistory()
    for k in G["keys"]:
        assert h.add(k["agent"], H(k["public_key_hex"]), k["valid_from_ms"], k.get("valid_until_ms")) == k["key_id"]
    return h


def state_json(s) -> dict:
    """The folded state in the vector's form."""
    return {
        "owner": s.owner,
        "members": [{"agent": a, "role": group_pb2.GroupRole.Name(m.role), "muted": m.muted} for a, m in sorted(s.members.items())],
        "pending": sorted(s.pending),
        "send": group_pb2.GroupSendPolicy.Name(s.send),
        "join_approval": s.join_approval,
        "seq": str(s.seq),
        "head_hex": s.head.hex(),
    }


def test_keys():
    for k in G["keys"]:
        ident = identity_from_seed(k["agent"], H(k["seed_hex"]))
        assert ident.public_key.hex() == k["public_key_hex"]
        assert key_id_for(ident.public_key) == k["key_id"]


@pytest.mark.parametrize("i", range(len(G["chain"])), ids=lambda i: G["chain"][i]["name"])
def test_chain_statement_bytes_and_signature(i):
    c = G["chain"][i]
    signed = group_pb2.SignedGroupStatement.FromString(CHAIN[i])
    # The canonical JSON form encodes to exactly the signed statement bytes.
    assert codec.encode(codec.from_json(group_pb2.GroupStatement, c["statement_json"])) == signed.statement
    assert codec.to_json(codec.decode(group_pb2.GroupStatement, signed.statement)) == c["statement_json"]
    assert statement_signing_bytes(signed.statement).hex() == c["pae_hex"]
    assert signed.signature.key_id == c["key_id"]
    key = next(k for k in G["keys"] if k["key_id"] == c["key_id"])
    assert ed25519.verify(H(key["public_key_hex"]), H(c["pae_hex"]), signed.signature.sig)
    # The signer's own signing gives the same signature (Ed25519 is deterministic).
    assert identity_from_seed(key["agent"], H(key["seed_hex"])).sign(H(c["pae_hex"])) == signed.signature.sig
    assert open_statement(CHAIN[i], history()).key_id == c["key_id"]
    if i:  # prev is the hash of the statement before
        import hashlib
        prev = group_pb2.SignedGroupStatement.FromString(CHAIN[i - 1]).statement
        assert codec.decode(group_pb2.GroupStatement, signed.statement).prev == hashlib.sha256(prev).digest()


def test_chain_folds_to_state():
    assert state_json(fold_group(CHAIN, history())) == G["state"]


def test_who_may_send_in_the_folded_state():
    s = fold_group(CHAIN, history())
    # An announce channel: the owner (carol) and the admin (owner) send; bob was kicked; mallory never joined.
    assert may_send(s, "carol") and may_send(s, "owner")
    for agent in ("bob", "mallory"):
        assert not may_send(s, agent)
        with pytest.raises(FleetError) as e:
            check_send(s, agent)
        assert (e.value.code, e.value.pointer) == (603, "/recipient/group")
    # Before the policy change (5 statements: bob muted, members send): carol sends, bob does not.
    s5 = fold_group(CHAIN[:5], history())
    assert may_send(s5, "carol") and not may_send(s5, "bob")


def test_an_empty_chain_is_no_group():
    with pytest.raises(FleetError) as e:
        fold_group([], history())
    assert e.value.code == 707


@pytest.mark.parametrize("v", G["negative"], ids=lambda v: v["name"])
def test_negative(v):
    assert v["kind"] == "group_statement"
    keys = history()
    before = fold_group(CHAIN[:v["applied"]], keys)
    snapshot = state_json(before)
    with pytest.raises(FleetError) as e:
        apply_statement(before, H(v["signed_statement_hex"]), keys)
    assert e.value.code == v["code"], str(e.value)
    assert code_name(e.value.code) == v["code_name"]
    if "pointer" in v:
        assert e.value.pointer == v["pointer"], str(e.value)
    # Refused: the state is unchanged, and the chain still extends with its next statement.
    assert state_json(before) == snapshot and before.invite_uses == fold_group(CHAIN[:v["applied"]], keys).invite_uses
    assert state_json(apply_statement(before, CHAIN[v["applied"]], keys)) == state_json(fold_group(CHAIN[:v["applied"] + 1], keys))


def test_invite_uses_are_counted_in_the_chain():
    # inv-a admits two joins: after the chain's two joins its count is 2, folded from the bytes alone.
    s = fold_group(CHAIN[:3], history())
    assert list(s.invite_uses.values()) == [2]


def test_bounds_refuse_with_804(monkeypatch):
    from fleet_protocol import groups
    keys = history()
    s2 = fold_group(CHAIN[:2], keys)
    # Members plus pending agents: at the bound the next join is 804 (and the state is kept).
    monkeypatch.setattr(groups, "MAX_GROUP_MEMBERS", 2)
    with pytest.raises(FleetError) as e:
        apply_statement(s2, CHAIN[2], keys)
    assert e.value.code == 804
    monkeypatch.setattr(groups, "MAX_GROUP_MEMBERS", 4096)
    # Limited invites counted per group: a join that would count one more than the bound is 804.
    monkeypatch.setattr(groups, "MAX_COUNTED_INVITES", 0)
    with pytest.raises(FleetError) as e:
        apply_statement(fold_group(CHAIN[:1], keys), CHAIN[1], keys)
    assert e.value.code == 804
    # Key history: full at its bound.
    monkeypatch.setattr(groups, "MAX_GROUP_KEYS", len(G["keys"]))
    with pytest.raises(FleetError) as e:
        keys.add("dave", identity_from_seed("dave", bytes(range(32))).public_key, 0)
    assert e.value.code == 804


def test_a_statement_verifies_only_as_a_group_statement():
    # The same statement bytes signed under another PAE domain (a token's) do not verify (601).
    from fleet_protocol._proto.fleet.v1 import signed_pb2
    from fleet_protocol.pae import pae
    owner = G["keys"][0]
    signed = group_pb2.SignedGroupStatement.FromString(CHAIN[0])
    sig = identity_from_seed("owner", H(owner["seed_hex"])).sign(pae("fleet.v1.token", "application/vnd.fleet.v1.token-claims+proto", signed.statement))
    other = group_pb2.SignedGroupStatement(statement=signed.statement, signature=signed_pb2.Signature(
        scheme=signed.signature.scheme, key_id=signed.signature.key_id, sig=sig))
    with pytest.raises(FleetError) as e:
        open_statement(other.SerializeToString(), history())
    assert (e.value.code, e.value.pointer) == (601, "/signature/sig")
