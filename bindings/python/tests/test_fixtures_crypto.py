"""fixtures/crypto.json checked from the file alone: keys, PAE, every signature, MAC, seal and
token recomputed; every negative vector refused with its exact code."""
import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from conftest import FIXTURES
from fleet_protocol import codec, ed25519
from fleet_protocol._proto.fleet.v1 import envelope_pb2, signed_pb2
from fleet_protocol.errors import FleetError
from fleet_protocol.identity import identity_from_seed
from fleet_protocol.keyid import hmac_key_id_for, key_id_for
from fleet_protocol.pae import pae
from fleet_protocol.replay import ReplayGuard
from fleet_protocol.session import Session, body_nonce, derive_keys, session_mac, transcript_hash, x25519_shared, _RAW
from fleet_protocol.signing import DOMAIN, PinnedKeys, VerifyContext, open_signed, sign_envelope, parse_envelope
from fleet_protocol.token import MemoryTokenUseStore, verify_token
from fleet_protocol.handshake import HandshakeInitiator

C = json.load(open(os.path.join(FIXTURES, "crypto.json"), encoding="utf-8"))
H = bytes.fromhex


def pinned() -> PinnedKeys:
    """The verifier's keys: those of `trusted_agents` only (agent-mallory's key is listed, not trusted)."""
    keys = PinnedKeys(trust_on_first_use=True)
    for k in C["keys"]:
        if k["agent"] in C["trusted_agents"]:
            keys.pin(k["agent"], H(k["public_key_hex"]))
    return keys


def seed_for(key_id: str) -> bytes:
    return next(H(k["seed_hex"]) for k in C["keys"] if k["key_id"] == key_id)


def ctx(now_ms: int, secrets=()) -> VerifyContext:
    c = VerifyContext(keys=pinned(), replay=ReplayGuard(), clock=lambda: now_ms)
    for s in secrets:
        c.add_secret(s)
    return c


@pytest.mark.parametrize("k", C["keys"], ids=lambda k: k["agent"])
def test_keys(k):
    ident = identity_from_seed(k["agent"], H(k["seed_hex"]))
    assert ident.public_key.hex() == k["public_key_hex"]
    assert key_id_for(ident.public_key) == ident.key_id == k["key_id"]


def test_keep_protocol_raw_ed25519():
    v = C["keep_protocol_ed25519"]
    ident = identity_from_seed("x", H(v["seed_hex"]))
    assert ident.public_key.hex() == v["public_key_hex"]
    assert ident.sign(H(v["message_hex"])).hex() == v["sig_hex"]
    assert ed25519.verify(ident.public_key, H(v["message_hex"]), H(v["sig_hex"]))


@pytest.mark.parametrize("v", C["ed25519_vectors"], ids=lambda v: v["name"][:40])
def test_ed25519_vectors(v):
    """Taming the many EdDSAs and mixed-order keys: the verdict spec/signing.md requires."""
    assert ed25519.verify(H(v["public_key_hex"]), H(v["message_hex"]), H(v["sig_hex"])) is v["valid"]


@pytest.mark.parametrize("v", C["pae"], ids=lambda v: v["domain"])
def test_pae(v):
    assert pae(v["domain"], *[H(p) for p in v["parts_hex"]]).hex() == v["pae_hex"]


@pytest.mark.parametrize("v", C["signed_envelopes"], ids=lambda v: v["name"])
def test_signed_envelopes(v):
    payload = H(v["payload_hex"])
    assert pae(DOMAIN, v["payload_type"], payload).hex() == v["pae_hex"]
    ident = identity_from_seed("signer", seed_for(v["key_id"]))
    assert ident.sign(H(v["pae_hex"])).hex() == v["sig_hex"]  # Ed25519 is deterministic
    raw = H(v["signed_envelope_hex"])
    se = codec.decode(signed_pb2.SignedEnvelope, raw)
    assert codec.encode(se) == raw
    assert codec.to_json(se) == v["signed_envelope_json"]
    assert codec.encode(codec.from_json(signed_pb2.SignedEnvelope, v["signed_envelope_json"])) == raw
    env = open_signed(se, ctx(C["now_ms"]))
    assert env.security.key_id == v["key_id"]
    # re-signing the parsed envelope with the same key and nonce gives the same bytes (proto form)
    if v["payload_type"].endswith("+proto"):
        again = sign_envelope(env, ident, v["payload_type"])
        assert again.payload == payload and again.signature.sig.hex() == v["sig_hex"]


def test_hmac():
    v = C["hmac"]
    secret = H(v["secret_hex"])
    assert hmac_key_id_for(secret) == v["key_id"]
    assert pae(DOMAIN, v["payload_type"], H(v["payload_hex"])).hex() == v["pae_hex"]
    import hmac as _h
    assert _h.new(secret, H(v["pae_hex"]), hashlib.sha256).hexdigest() == v["sig_hex"]
    raw = H(v["signed_envelope_hex"])
    se = codec.decode(signed_pb2.SignedEnvelope, raw)
    assert codec.encode(se) == raw and codec.to_json(se) == v["signed_envelope_json"]
    open_signed(se, ctx(C["now_ms"], [secret]))
    with pytest.raises(FleetError) as e:  # not given the secret: 601
        open_signed(se, ctx(C["now_ms"]))
    assert e.value.code == 601


def _priv(hexs):
    return X25519PrivateKey.from_private_bytes(H(hexs))


def test_session_derivation():
    s = C["session"]
    pi, pr = _priv(s["initiator_ephemeral_private_hex"]), _priv(s["responder_ephemeral_private_hex"])
    assert pi.public_key().public_bytes(**_RAW).hex() == s["initiator_ephemeral_public_hex"]
    assert pr.public_key().public_bytes(**_RAW).hex() == s["responder_ephemeral_public_hex"]
    shared = x25519_shared(pi, H(s["responder_ephemeral_public_hex"]))
    assert shared == x25519_shared(pr, H(s["initiator_ephemeral_public_hex"]))
    assert shared.hex() == s["shared_secret_hex"]
    h = s["handshake"]
    parts = (h["initiator"], H(h["initiator_identity_public_key_hex"]), h["responder"], H(h["responder_identity_public_key_hex"]),
             H(h["hello_payload_hex"]), H(h["welcome_payload_hex"]))
    assert pae("fleet.v1.session-transcript", *parts).hex() == h["transcript_pae_hex"]
    assert transcript_hash(*parts).hex() == s["transcript_hex"]
    keys = derive_keys(shared, H(s["transcript_hex"]), s["session_id"])
    assert {f"{k}_hex": getattr(keys, k).hex() for k in ("i2r_mac", "r2i_mac", "i2r_enc", "r2i_enc")} == s["keys"]
    assert body_nonce("i2r", 2).hex() == s["nonce_examples"]["i2r_seq2_hex"]
    assert body_nonce("r2i", 1).hex() == s["nonce_examples"]["r2i_seq1_hex"]


def test_handshake_vectors_replayed_by_the_python_initiator():
    """The fixture's Hello, Welcome and Confirm: every signature verifies, and the Python initiator,
    resumed with the Hello's nonce and ephemeral key, answers the Welcome with the fixture's Confirm body
    (same session id, responder nonce and Finished) and derives the fixture's session."""
    s = C["session"]
    h = s["handshake"]
    hello = codec.decode(signed_pb2.SignedEnvelope, H(h["hello_signed_envelope_hex"]))
    welcome = codec.decode(signed_pb2.SignedEnvelope, H(h["welcome_signed_envelope_hex"]))
    confirm = codec.decode(signed_pb2.SignedEnvelope, H(h["confirm_signed_envelope_hex"]))
    assert hello.payload.hex() == h["hello_payload_hex"] and welcome.payload.hex() == h["welcome_payload_hex"]
    now = C["now_ms"]
    for se in (hello, welcome, confirm):
        open_signed(se, VerifyContext(keys=pinned(), replay=None, clock=lambda: now))
    hello_env = parse_envelope(hello.payload_type, hello.payload)
    alice = identity_from_seed(h["initiator"], seed_for(hello.signature.key_id))
    keys = PinnedKeys()
    ini = HandshakeInitiator(alice, keys)
    ini.resume(hello, hello_env.body.hello.nonce, _priv(s["initiator_ephemeral_private_hex"]))
    mine, est = hs_receive_at(ini, welcome, now)
    want = parse_envelope(confirm.payload_type, confirm.payload).body.handshake_confirm
    got = parse_envelope(mine.payload_type, mine.payload).body.handshake_confirm
    assert got == want and got.finished.hex() == h["finished_initiator_hex"]
    assert est.session.transcript.hex() == s["transcript_hex"] and est.session.keys.i2r_mac.hex() == s["keys"]["i2r_mac_hex"]
    assert est.session.finished_r.hex() == h["finished_responder_hex"]
    assert keys.pins[h["responder"]] == welcome.signature.key_id
    for role, key in (("initiator", "i2r_mac_hex"), ("responder", "r2i_mac_hex")):
        assert pae("fleet.v1.handshake-finished", role, s["session_id"], H(s["transcript_hex"])).hex() == h[f"finished_{role}_pae_hex"]


def hs_receive_at(ini, welcome, now):
    return ini.receive(welcome, clock=lambda: now)


def _sessions():
    s = C["session"]
    tr = H(s["transcript_hex"])
    ini = Session.derive("initiator", s["session_id"], _priv(s["initiator_ephemeral_private_hex"]), H(s["responder_ephemeral_public_hex"]), tr)
    res = Session.derive("responder", s["session_id"], _priv(s["responder_ephemeral_private_hex"]), H(s["initiator_ephemeral_public_hex"]), tr)
    return ini, res


def test_session_messages():
    s = C["session"]
    ini, res = _sessions()
    for m in s["messages"]:
        seq = int(m["sequence"])
        payload = H(m["payload_hex"])
        assert pae("fleet.v1.session", s["session_id"], seq.to_bytes(8, "big"), m["payload_type"], payload).hex() == m["pae_hex"]
        key = ini.keys.i2r_mac if m["direction"] == "i2r" else ini.keys.r2i_mac
        assert session_mac(key, s["session_id"], seq, m["payload_type"], payload).hex() == m["mac_hex"]
        raw = H(m["session_envelope_hex"])
        se = codec.decode(signed_pb2.SessionEnvelope, raw)
        assert codec.encode(se) == raw and se.payload == payload and se.mac.hex() == m["mac_hex"]
        receiver, sender = (res, ini) if m["direction"] == "i2r" else (ini, res)
        out = receiver.open_all(se)
        assert all(isinstance(e, envelope_pb2.Envelope) for e in out)
        if m["payload_type"].endswith("batch+proto"):
            batch = codec.decode(signed_pb2.EnvelopeBatch, payload)
            assert [codec.encode(e) for e in out] == list(batch.envelopes) and len(out) == 2
            resealed = sender.seal_batch(out)
        else:
            env = parse_envelope(m["payload_type"], payload)
            if env.body_ciphertext:
                # the sealed body decrypts, and sealing the plaintext again gives the vector's bytes exactly
                assert out[0].HasField("body") and not out[0].body_ciphertext
                resealed = sender.seal(out[0], encrypt=True, algorithm=env.security.encryption.algorithm)
            else:
                resealed = sender.seal(out[0])
        assert resealed.sequence == seq
        assert codec.encode(resealed) == raw


def _se(hexs):
    return codec.decode(signed_pb2.SignedEnvelope, H(hexs), check=False)


@pytest.mark.parametrize("v", C["negative"], ids=lambda v: v["name"])
def test_negative(v):
    with pytest.raises(FleetError) as err:
        kind = v["kind"]
        if kind == "signed_envelope":
            secrets = [H(v["shared_secret_hex"])] if "shared_secret_hex" in v else []
            c = ctx(v["now_ms"], secrets)
            se = _se(v["signed_envelope_hex"])
            if v.get("deliver_twice"):
                open_signed(se, c)
            open_signed(se, c)
        elif kind == "public_key":
            ed25519.check_public_key(H(v["public_key_hex"]))
        elif kind == "session":
            _, res = _sessions()
            receiver = res if v["direction"] == "i2r" else _sessions()[0]
            se = codec.decode(signed_pb2.SessionEnvelope, H(v["session_envelope_hex"]), check=False)
            if "after_hex" in v:
                receiver.open_all(codec.decode(signed_pb2.SessionEnvelope, H(v["after_hex"])))
            if v.get("deliver_twice"):
                receiver.open_all(se)
            receiver.open_all(se)
        elif kind == "token":
            uses = MemoryTokenUseStore(clock=lambda: v["now_ms"])
            kw = dict(keys=pinned(), audience=v["audience"], scope=v.get("scope"), clock=lambda: v["now_ms"], uses=uses)
            if v.get("deliver_twice"):
                verify_token(v["token"], **kw)
            verify_token(v["token"], **kw)
        else:
            pytest.fail(f"unknown negative kind {kind}")
    assert err.value.code == v["code"], str(err.value)
    if "pointer" in v:
        assert err.value.pointer == v["pointer"]


@pytest.mark.parametrize("t", C["tokens"], ids=lambda t: t["name"])
def test_tokens(t):
    claims = verify_token(t["token"], keys=pinned(), audience=t["audience"], scope=t["scope"], subject=t.get("subject"),
                          clock=lambda: t["now_ms"], uses=MemoryTokenUseStore(clock=lambda: t["now_ms"]))
    assert claims.issuer == t["issuer"] and t["scope"] in claims.scopes
    assert claims.subject == t.get("subject", "")
