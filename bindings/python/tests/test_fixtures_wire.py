"""fixtures/wire.json checked from the file alone: decode, canonical JSON, re-encode byte for byte,
frames (and the signature inside each framed packet), every negative vector with its code and pointer."""
import json
import os

import pytest

from conftest import FIXTURES
from fleet_protocol import codec
from fleet_protocol._proto.fleet.v1 import address_pb2, envelope_pb2, signed_pb2, token_pb2
from fleet_protocol.errors import FleetError
from fleet_protocol.frame import FrameDecoder, encode_frame, HEADER_BYTES, MAX_FRAME_BYTES, MAGIC, VERSION
from fleet_protocol.signing import PinnedKeys, VerifyContext, open_signed
import hashlib

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fleet_protocol.client import verify_postmarks
from fleet_protocol.identity import identity_from_seed
from fleet_protocol.session import Session, _RAW, transcript_hash, x25519_shared

W = json.load(open(os.path.join(FIXTURES, "wire.json"), encoding="utf-8"))
C = json.load(open(os.path.join(FIXTURES, "crypto.json"), encoding="utf-8"))
TYPES = {c.DESCRIPTOR.full_name: c for c in (envelope_pb2.Envelope, signed_pb2.SignedEnvelope, signed_pb2.SessionEnvelope, signed_pb2.Packet,
                                             token_pb2.TokenClaims, token_pb2.Token, address_pb2.Recipient)}


def test_frame_constants():
    f = W["frame"]
    assert (MAGIC.hex(), VERSION, f["flags"], HEADER_BYTES, MAX_FRAME_BYTES) == (f["magic_hex"], f["version"], 0, f["header_bytes"], f["max_frame_bytes"])


def _verifier_keys() -> PinnedKeys:
    keys = PinnedKeys(trust_on_first_use=False)
    for k in W["keys"]:
        if k["agent"] in W["trusted_agents"]:
            keys.pin(k["agent"], bytes.fromhex(k["public_key_hex"]))
    return keys


def test_keys():
    for k in W["keys"]:
        ident = identity_from_seed(k["agent"], bytes.fromhex(k["seed_hex"]))
        assert ident.public_key.hex() == k["public_key_hex"] and ident.key_id == k["key_id"]


def _vector(name):
    return next(v for v in W["vectors"] if v["name"] == name)


def test_sample_handshake_and_session():
    """The wire set's Hello/Welcome/Confirm samples are a real handshake: transcript, keys and both Finished
    values recomputed; the session-envelope sample's MAC and the encrypted sample's body are real."""
    s = W["session"]
    hello = codec.decode(envelope_pb2.Envelope, bytes.fromhex(_vector("envelope-hello")["binary_hex"]))
    welcome_raw = bytes.fromhex(_vector("envelope-welcome")["binary_hex"])
    welcome = codec.decode(envelope_pb2.Envelope, welcome_raw)
    confirm = codec.decode(envelope_pb2.Envelope, bytes.fromhex(_vector("envelope-handshake-confirm")["binary_hex"]))
    assert (hello.sender, welcome.sender) == (s["initiator"], s["responder"])
    transcript = transcript_hash(hello.sender, hello.body.hello.identity_public_key, welcome.sender, welcome.body.welcome.identity_public_key,
                                 bytes.fromhex(_vector("envelope-hello")["binary_hex"]), welcome_raw)
    assert transcript.hex() == s["transcript_hex"]
    eph_i = X25519PrivateKey.from_private_bytes(bytes.fromhex(s["initiator_ephemeral_private_hex"]))
    assert eph_i.public_key().public_bytes(**_RAW).hex() == s["initiator_ephemeral_public_hex"] == hello.body.hello.ephemeral_public_key.hex()
    assert s["responder_ephemeral_public_hex"] == welcome.body.welcome.ephemeral_public_key.hex()
    sess = Session.derive("responder", s["session_id"], X25519PrivateKey.from_private_bytes(bytes.fromhex(s["responder_ephemeral_private_hex"])),
                          bytes.fromhex(s["initiator_ephemeral_public_hex"]), transcript)
    assert welcome.body.welcome.session_id == s["session_id"]
    assert x25519_shared(eph_i, bytes.fromhex(s["responder_ephemeral_public_hex"])).hex() == s["shared_secret_hex"]
    assert {f"{k}_hex": getattr(sess.keys, k).hex() for k in ("i2r_mac", "r2i_mac", "i2r_enc", "r2i_enc")} == s["keys"]
    assert sess.finished_i.hex() == s["finished_initiator_hex"] == confirm.body.handshake_confirm.finished.hex()
    assert sess.finished_r.hex() == s["finished_responder_hex"]
    # session-envelope: the initiator's sequence 1, opened by the responder
    se = codec.decode(signed_pb2.SessionEnvelope, bytes.fromhex(_vector("session-envelope")["binary_hex"]))
    assert se.session_id == s["session_id"] and se.sequence == 1
    assert sess.open(se).id
    # envelope-encrypted: its body decrypts under i2r_enc at the sequence its nonce carries
    enc = codec.decode(envelope_pb2.Envelope, bytes.fromhex(_vector("envelope-encrypted")["binary_hex"]))
    seq = int.from_bytes(enc.security.encryption.nonce[4:], "big")
    receiver = Session("responder", s["session_id"], sess.keys, transcript)
    opened = receiver._decrypt(enc, seq)
    assert opened.HasField("body") and not opened.body_ciphertext


def test_bottle_postmark_verifies():
    env = codec.decode(envelope_pb2.Envelope, bytes.fromhex(_vector("envelope-bottle")["binary_hex"]))
    bottle = env.body.bottle
    letter = open_signed(bottle.letter, VerifyContext(keys=_verifier_keys(), replay=None))
    verify_postmarks(bottle, letter.body.bottle_letter.bottle_id, _verifier_keys())
    bad = type(bottle)()
    bad.CopyFrom(bottle)
    bad.postmarks[0].hop = 2
    with pytest.raises(FleetError) as e:
        verify_postmarks(bad, letter.body.bottle_letter.bottle_id, _verifier_keys())
    assert e.value.code == 601


def test_manifest_describes_each_set_file_exactly():
    m = json.load(open(os.path.join(FIXTURES, "manifest.json"), encoding="utf-8"))
    for entry in m["sets"]:
        raw = open(os.path.join(FIXTURES, entry["file"]), "rb").read()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"] and len(raw) == entry["bytes"]


@pytest.mark.parametrize("v", W["vectors"], ids=lambda v: v["name"])
def test_vector(v):
    cls = TYPES[v["message"]]
    raw = bytes.fromhex(v["binary_hex"])
    msg = codec.decode(cls, raw)
    assert codec.to_json(msg) == v["json"]
    assert codec.encode(msg) == raw
    assert codec.encode(codec.from_json(cls, v["json"])) == raw
    if "framed_hex" not in v:
        return
    framed = bytes.fromhex(v["framed_hex"])
    bodies = FrameDecoder().push(framed)
    assert len(bodies) == 1 and encode_frame(bodies[0]) == framed
    packet = codec.decode(signed_pb2.Packet, bodies[0])
    assert codec.encode(packet) == bodies[0]
    kind = packet.WhichOneof("kind")
    if v["message"] == "fleet.v1.Packet":
        assert bodies[0] == raw
        return
    if v["message"] == "fleet.v1.Envelope":
        se = packet.signed
        assert se.payload == raw
        env = open_signed(se, VerifyContext(keys=_verifier_keys(), replay=None))
        assert env.id == msg.id
    elif kind == "signed":
        assert codec.encode(packet.signed) == raw
    else:
        assert codec.encode(packet.session) == raw


def _decode_negative(n):
    d = n["decoder"]
    if d == "frame":
        dec = FrameDecoder()
        dec.push(bytes.fromhex(n["input_hex"]))
        dec.end()
    elif d == "envelope-binary":
        codec.decode(envelope_pb2.Envelope, bytes.fromhex(n["input_hex"]))
    elif d == "packet-binary":
        codec.decode(signed_pb2.Packet, bytes.fromhex(n["input_hex"]))
    elif d == "envelope-json":
        codec.from_json(envelope_pb2.Envelope, n["input_json"])
    elif d == "envelope-json-bytes":
        codec.from_json_bytes(envelope_pb2.Envelope, bytes.fromhex(n["input_hex"]))
    else:
        pytest.fail(f"unknown decoder {d}")


@pytest.mark.parametrize("a", W["accepted"], ids=lambda a: a["name"])
def test_accepted(a):
    """Inputs every decoder must accept (limits in characters count code points); binary re-encodes exactly."""
    if a["decoder"] == "envelope-binary":
        raw = bytes.fromhex(a["input_hex"])
        assert codec.encode(codec.decode(envelope_pb2.Envelope, raw)) == raw
    elif a["decoder"] == "envelope-json":
        codec.from_json(envelope_pb2.Envelope, a["input_json"])
    elif a["decoder"] == "envelope-json-bytes":
        codec.from_json_bytes(envelope_pb2.Envelope, bytes.fromhex(a["input_hex"]))
    else:
        pytest.fail(f"unknown decoder {a['decoder']}")


@pytest.mark.parametrize("n", W["negative"], ids=lambda n: n["name"])
def test_negative(n):
    with pytest.raises(FleetError) as e:
        _decode_negative(n)
    assert e.value.code == n["code"], str(e.value)
    if "pointer" in n:
        assert e.value.pointer == n["pointer"]


def test_frame_decoder_holds_at_most_one_frame():
    # the bound: a header announcing more than the maximum is refused before any body is buffered
    dec = FrameDecoder(max_frame_bytes=16)
    with pytest.raises(FleetError) as e:
        dec.push(b"FP\x01\x00\x00\x00\x00\x11")
    assert e.value.code == 703
    dec = FrameDecoder()
    assert dec.push(encode_frame(b"ab") + encode_frame(b"c")[:5]) == [b"ab"]
    assert dec.push(encode_frame(b"c")[5:]) == [b"c"]
    dec.end()


def test_no_section_of_any_set_goes_unchecked():
    # Every top-level section these tests check; a new section fails here until a test checks it.
    checked = {
        "crypto.json": {"description", "format", "now_ms", "keys", "trusted_agents", "keep_protocol_ed25519", "ed25519_vectors", "pae", "signed_envelopes", "hmac", "session", "tokens", "negative"},
        "wire.json": {"description", "format", "keys", "trusted_agents", "session", "frame", "vectors", "accepted", "negative"},
        "trust.json": {"description", "format", "keys", "trusted_agents", "registry", "bottles", "heartbeat", "revocation", "capability_grants"},
        "groups.json": {"description", "format", "keys", "chain", "state", "negative"},  # test_fixtures_groups.py
    }
    # Sets this binding does not check yet (named here, so a new set still fails this test until listed).
    not_yet: set[str] = set()
    m = json.load(open(os.path.join(FIXTURES, "manifest.json"), encoding="utf-8"))
    assert sorted(e["file"] for e in m["sets"]) == sorted(set(checked) | not_yet)
    for name, sections in checked.items():
        assert set(json.load(open(os.path.join(FIXTURES, name), encoding="utf-8"))) == sections, name
