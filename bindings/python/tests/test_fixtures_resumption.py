"""fixtures/crypto.json session.resumption checked from the file and spec/handshake.md "Resumption"
alone: PSK, binder keys, the reference hub's ticket, the resumed handshake and its refusals."""
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from conftest import FIXTURES
from fleet_protocol import codec
from fleet_protocol._proto.fleet.v1 import signed_pb2
from fleet_protocol.errors import FleetError
from fleet_protocol.keyid import key_id_for
from fleet_protocol.pae import pae, u64be
from fleet_protocol.resumption import (TicketState, binder_key, open_resumed_hello, open_ticket, resumed_mac, resumption_psk, seal_ticket,
                                       ticket_from_key_id, ticket_key_id, ticket_key_tag, ticket_plaintext, verify_resumed)
from fleet_protocol.session import _RAW, derive_keys, finished, transcript_hash, x25519_shared
from fleet_protocol.signing import HMAC_SHA256, parse_envelope

C = json.load(open(os.path.join(FIXTURES, "crypto.json"), encoding="utf-8"))
S = C["session"]
R = S["resumption"]
T = R["ticket"]
H = bytes.fromhex
NOW = R["now_ms"]


def signed(hex_: str) -> signed_pb2.SignedEnvelope:
    return codec.decode(signed_pb2.SignedEnvelope, H(hex_))


def body(se, kind):
    env = parse_envelope(se.payload_type, se.payload)
    assert env.body.WhichOneof("kind") == kind
    return env, getattr(env.body, kind)


def test_psk_of_the_full_handshake():
    h = S["handshake"]
    _, hello = body(signed(h["hello_signed_envelope_hex"]), "hello")
    _, welcome = body(signed(h["welcome_signed_envelope_hex"]), "welcome")
    assert (hello.nonce + welcome.nonce).hex() == R["psk_salt_hex"] and len(H(R["psk_salt_hex"])) == 64
    assert welcome.session_id == S["session_id"]
    assert pae("fleet.v1.resumption-psk", S["session_id"]).hex() == R["psk_info_pae_hex"]
    psk = resumption_psk(H(S["shared_secret_hex"]), hello.nonce, welcome.nonce, S["session_id"])
    assert psk.hex() == R["psk_hex"]
    # another session id or nonce order gives another PSK
    assert resumption_psk(H(S["shared_secret_hex"]), welcome.nonce, hello.nonce, S["session_id"]) != psk
    assert resumption_psk(H(S["shared_secret_hex"]), hello.nonce, welcome.nonce, R["session_id"]) != psk


def test_binder_keys():
    psk = H(R["psk_hex"])
    assert pae("fleet.v1.resumption-binder", "initiator").hex() == R["binder_initiator_pae_hex"]
    assert pae("fleet.v1.resumption-binder", "responder").hex() == R["binder_responder_pae_hex"]
    assert binder_key(psk, "initiator").hex() == R["binder_initiator_hex"]
    assert binder_key(psk, "responder").hex() == R["binder_responder_hex"]
    with pytest.raises(ValueError):
        binder_key(psk, "hub")


def test_ticket_seal_and_open():
    key = H(T["ticket_key_hex"])
    assert pae("fleet.v1.resumption-ticket-key", key).hex() == T["key_tag_pae_hex"]
    assert ticket_key_tag(key).hex() == T["key_tag_hex"]
    state = TicketState(T["agent"], H(T["identity_public_key_hex"]), H(R["psk_hex"]), T["expires_at_ms"])
    plain = ticket_plaintext(state)
    assert plain.hex() == T["plaintext_hex"]
    assert plain == H(R["psk_hex"]) + H(T["identity_public_key_hex"]) + u64be(T["expires_at_ms"]) + T["agent"].encode()
    ticket = seal_ticket(key, state, H(T["nonce_hex"]))
    assert ticket.hex() == T["ticket_hex"]
    assert ticket[:1] == b"\x01" and ticket[1:5].hex() == T["key_tag_hex"] and ticket[5:17].hex() == T["nonce_hex"]
    agent, ipk, psk, expires = open_ticket(key, ticket, NOW)
    assert (agent, ipk.hex(), psk.hex(), expires) == (T["agent"], T["identity_public_key_hex"], R["psk_hex"], T["expires_at_ms"])
    assert ticket_key_id(ticket) == T["key_id"] and "=" not in T["key_id"]
    assert ticket_from_key_id(T["key_id"]) == ticket


@pytest.mark.parametrize("key_id", ["ed25519:abc", "ticket:", "ticket:AB=C", "ticket:A+B/", "ticket:A", "ticket:" + "A" * 700])
def test_ticket_key_id_refused(key_id):
    with pytest.raises(FleetError) as e:
        ticket_from_key_id(key_id)
    assert (e.value.code, e.value.pointer) == (104, "/signature/keyId")


def test_ticket_refused_when_not_ours_altered_or_expired():
    key, ticket = H(T["ticket_key_hex"]), H(T["ticket_hex"])
    cases = [(key, ticket, T["expires_at_ms"]), (key, ticket[:20] + bytes([ticket[20] ^ 1]) + ticket[21:], NOW),
             (bytes(32), ticket, NOW), (key, b"\x02" + ticket[1:], NOW), (key, ticket[:-1], NOW), (key, ticket[:100], NOW)]
    for k, t, now in cases:
        with pytest.raises(FleetError) as e:
            open_ticket(k, t, now)
        assert (e.value.code, e.value.pointer) == (104, "/signature/keyId")
    assert open_ticket(key, ticket, T["expires_at_ms"] - 1).agent == T["agent"]


def test_resumed_steps_open_under_their_binder():
    ticket, psk = H(T["ticket_hex"]), H(R["psk_hex"])
    steps = [("hello", "initiator", R["hello_signed_envelope_hex"]), ("welcome", "responder", R["welcome_signed_envelope_hex"]),
             ("confirm", "initiator", R["confirm_signed_envelope_hex"])]
    h = S["handshake"]
    for step, role, hex_ in steps:
        se = signed(hex_)
        assert se.signature.scheme == HMAC_SHA256 and se.signature.key_id == T["key_id"]
        assert se.signature.sig == resumed_mac(psk, role, se.payload_type, se.payload)
        env = verify_resumed(se, psk, role, ticket, NOW)
        sender_key = h["initiator_identity_public_key_hex"] if role == "initiator" else h["responder_identity_public_key_hex"]
        assert env.security.key_id == key_id_for(H(sender_key))  # stays the sender's identity key id
        other = "responder" if role == "initiator" else "initiator"
        with pytest.raises(FleetError) as e:
            verify_resumed(se, psk, other, ticket, NOW)
        assert (e.value.code, e.value.pointer) == (104, "/signature/sig")
    env, state = open_resumed_hello(signed(R["hello_signed_envelope_hex"]), H(T["ticket_key_hex"]), NOW)
    assert env.sender == state.agent == T["agent"] and state.psk == psk


def test_mac_checked_before_parsing():
    """A payload that is not an Envelope with a wrong MAC is a MAC failure (104), never a parse error (7xx)."""
    se = signed(R["hello_signed_envelope_hex"])
    se.payload = b"\xff\xff not a protobuf"
    with pytest.raises(FleetError) as e:
        verify_resumed(se, H(R["psk_hex"]), "initiator", H(T["ticket_hex"]), NOW)
    assert (e.value.code, e.value.pointer) == (104, "/signature/sig")


def test_resumed_handshake_transcript_keys_and_finished():
    hello_se, welcome_se, confirm_se = (signed(R[f"{k}_signed_envelope_hex"]) for k in ("hello", "welcome", "confirm"))
    hello_env, hello = body(hello_se, "hello")
    welcome_env, welcome = body(welcome_se, "welcome")
    _, confirm = body(confirm_se, "handshake_confirm")
    assert welcome.session_id == confirm.session_id == R["session_id"]
    assert welcome.initiator_nonce == hello.nonce and confirm.responder_nonce == welcome.nonce
    transcript = transcript_hash(hello_env.sender, hello.identity_public_key, welcome_env.sender, welcome.identity_public_key,
                                 hello_se.payload, welcome_se.payload)
    assert transcript.hex() == R["transcript_hex"]
    pi = X25519PrivateKey.from_private_bytes(H(R["initiator_ephemeral_private_hex"]))
    pr = X25519PrivateKey.from_private_bytes(H(R["responder_ephemeral_private_hex"]))
    assert pi.public_key().public_bytes(**_RAW) == hello.ephemeral_public_key
    assert pr.public_key().public_bytes(**_RAW) == welcome.ephemeral_public_key
    shared = x25519_shared(pi, welcome.ephemeral_public_key)
    assert shared == x25519_shared(pr, hello.ephemeral_public_key)
    keys = derive_keys(shared, transcript, R["session_id"])
    fi = finished(keys.i2r_mac, "initiator", R["session_id"], transcript)
    fr = finished(keys.r2i_mac, "responder", R["session_id"], transcript)
    assert fi.hex() == R["finished_initiator_hex"] == confirm.finished.hex()
    assert fr.hex() == R["finished_responder_hex"]
    # the Welcome's next ticket carries the resumed handshake's own PSK, for the same agent and key
    next_psk = resumption_psk(shared, hello.nonce, welcome.nonce, R["session_id"])
    assert next_psk.hex() == R["next_psk_hex"] != R["psk_hex"]
    assert 0 < len(welcome.resumption_ticket) <= 512 and welcome.resumption_lifetime_seconds > 0
    agent, ipk, psk, expires = open_ticket(H(T["ticket_key_hex"]), welcome.resumption_ticket, NOW)
    assert psk.hex() == R["next_psk_hex"] and agent == hello_env.sender and ipk == hello.identity_public_key
    assert expires > NOW


def test_refusals_cover_both_sides():
    assert {r["by"] for r in R["refusals"]} == {"responder", "initiator"}


@pytest.mark.parametrize("r", R["refusals"], ids=lambda r: r["name"])
def test_refusals(r):
    se = signed(r["signed_envelope_hex"])
    with pytest.raises(FleetError) as e:
        if r["by"] == "responder":
            assert r["step"] == "hello"
            open_resumed_hello(se, H(r["ticket_key_hex"]), r["now_ms"])
        else:
            # the initiator sent the vector's resumed Hello with the vector's ticket and PSK
            assert r["step"] == "welcome"
            verify_resumed(se, H(R["psk_hex"]), "responder", H(T["ticket_hex"]), r["now_ms"])
    assert (e.value.code, e.value.pointer) == (r["code"], r["pointer"])


def test_resumed_welcome_comes_from_the_tickets_responder():
    """Initiator, step 2: the Welcome is from the responder the ticket was kept for, under its identity key id and key."""
    h = S["handshake"]
    env = verify_resumed(signed(R["welcome_signed_envelope_hex"]), H(R["psk_hex"]), "responder", H(T["ticket_hex"]), NOW)
    assert env.sender == h["responder"]
    assert env.body.welcome.identity_public_key.hex() == h["responder_identity_public_key_hex"]


def test_stale_resumed_step_is_refused():
    """Freshness applies unchanged: the vector's Hello presented long after its ttl is 104."""
    se = signed(R["hello_signed_envelope_hex"])
    with pytest.raises(FleetError) as e:
        verify_resumed(se, H(R["psk_hex"]), "initiator", H(T["ticket_hex"]), NOW + 3_600_000)
    assert e.value.code == 104
