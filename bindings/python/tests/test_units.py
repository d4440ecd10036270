"""Capabilities beyond the fixture vectors: key files, bounds, the shared-secret mode, the handshake's
own refusals, and the offline install."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from conftest import FIXTURES
from fleet_protocol import FileKeystore, codec, generate_identity, identity_from_seed
from fleet_protocol._proto.fleet.v1 import signed_pb2
from fleet_protocol.errors import FleetError, SecurityError, HandshakeError, WireError
from fleet_protocol.envelope import application, build_envelope
from fleet_protocol._proto.fleet.v1 import envelope_pb2
from fleet_protocol.handshake import HandshakeInitiator
from fleet_protocol.replay import ReplayGuard
from fleet_protocol.signing import PinnedKeys, VerifyContext, open_signed, parse_envelope, sign_envelope, sign_envelope_hmac
from fleet_protocol.token import MemoryTokenUseStore

C = json.load(open(os.path.join(FIXTURES, "crypto.json"), encoding="utf-8"))


def test_key_files_are_0600_and_refused_when_others_can_read_them():
    ks = FileKeystore(os.path.join(tempfile.mkdtemp(), "keys"))
    me = generate_identity("group/odd:name")
    path = ks.save(me)
    assert os.path.basename(path) == "group%2Fodd%3Aname.key" and os.stat(path).st_mode & 0o777 == 0o600
    assert ks.load("group/odd:name").key_id == me.key_id and ks.list() == ["group/odd:name"]
    assert "seed" not in repr(me) and me.seed().hex() not in repr(me)
    os.chmod(path, 0o644)
    with pytest.raises(FleetError) as e:
        ks.load("group/odd:name")
    assert e.value.code == 603
    os.chmod(path, 0o600)
    doc = json.load(open(path))
    doc["key_id"] = generate_identity("x").key_id
    with open(path, "w") as f:
        json.dump(doc, f)
    with pytest.raises(FleetError) as e:
        ks.load("group/odd:name")
    assert e.value.code == 606
    with pytest.raises(FleetError) as e:
        ks.load("nobody")
    assert e.value.code == 503


def test_replay_cache_is_bounded():
    g = ReplayGuard(capacity=3)
    for i in range(3):
        g.check("a", f"m{i}", 1_000, 60, 1_000)
    with pytest.raises(FleetError) as e:  # full of live ids: refuse rather than forget one
        g.check("a", "m3", 1_000, 60, 1_000)
    assert e.value.code == 804 and len(g) == 3
    g.check("a", "m3", 200_000, 60, 200_000)  # the old ones aged out of the window
    assert len(g) == 1
    with pytest.raises(FleetError) as e:
        g.check("a", "m3", 200_000, 60, 200_001)
    assert e.value.code == 604


def test_token_use_store_is_bounded():
    s = MemoryTokenUseStore(capacity=2, clock=lambda: 0)
    assert s.consume("t1", 1, 10) and s.consume("t2", 1, 10)
    assert not s.consume("t1", 1, 10)
    with pytest.raises(FleetError) as e:
        s.consume("t3", 1, 10)
    assert e.value.code == 804


def test_hmac_mode_round_trip_and_short_secret():
    secret = bytes(range(32))
    env = build_envelope("a", "b", body=envelope_pb2.Body(application=application({"x": 1})))
    se = sign_envelope_hmac(env, secret)
    ctx = VerifyContext()
    ctx.add_secret(secret)
    assert open_signed(se, ctx).id == env.id
    with pytest.raises(FleetError) as e:
        sign_envelope_hmac(env, b"short")
    assert e.value.code == 606


def test_json_payload_signs_over_the_text_as_sent():
    me = generate_identity("a")
    env = build_envelope("a", "b", body=envelope_pb2.Body(application=application({"x": 1})))
    se = sign_envelope(env, me, "application/vnd.fleet.v1.envelope+json")
    keys = PinnedKeys()
    keys.pin("a", me.public_key)
    assert open_signed(se, VerifyContext(keys=keys)).id == env.id
    tampered = signed_pb2.SignedEnvelope()
    tampered.CopyFrom(se)
    tampered.payload = se.payload.replace(b'{"', b'{ "', 1)  # same JSON meaning, other bytes
    with pytest.raises(SecurityError) as e:
        open_signed(tampered, VerifyContext(keys=keys))
    assert e.value.code == 601


def test_errors_are_typed_by_area():
    with pytest.raises(WireError):
        codec.decode(envelope_pb2.Envelope, b"\x0a\x05ab")


def _fixture_handshake(agent: str):
    s = C["session"]
    h = s["handshake"]
    hello = codec.decode(signed_pb2.SignedEnvelope, bytes.fromhex(h["hello_signed_envelope_hex"]))
    welcome = codec.decode(signed_pb2.SignedEnvelope, bytes.fromhex(h["welcome_signed_envelope_hex"]))
    seed = next(bytes.fromhex(k["seed_hex"]) for k in C["keys"] if k["key_id"] == hello.signature.key_id)
    ini = HandshakeInitiator(identity_from_seed(agent, seed), PinnedKeys())
    nonce = parse_envelope(hello.payload_type, hello.payload).body.hello.nonce
    ini.resume(hello, nonce, X25519PrivateKey.from_private_bytes(bytes.fromhex(s["initiator_ephemeral_private_hex"])))
    return ini, welcome


def test_handshake_refuses_a_welcome_for_someone_else():
    ini, welcome = _fixture_handshake("agent-carol")  # the Welcome is addressed to agent-alice
    with pytest.raises(HandshakeError) as e:
        ini.receive(welcome, clock=lambda: C["now_ms"])
    assert (e.value.code, e.value.pointer) == (104, "/recipient")
    assert ini.state == "awaiting-welcome"  # refused input leaves the machine as it was


def test_handshake_refuses_an_unexpected_responder_and_a_known_name_with_another_key():
    ini, welcome = _fixture_handshake("agent-alice")
    ini.responder = "fleet-hub"
    with pytest.raises(HandshakeError) as e:
        ini.receive(welcome, clock=lambda: C["now_ms"])
    assert (e.value.code, e.value.pointer) == (104, "/sender")
    ini, welcome = _fixture_handshake("agent-alice")
    ini.keys.pin("agent-bob", generate_identity("x").public_key)
    with pytest.raises(HandshakeError) as e:
        ini.receive(welcome, clock=lambda: C["now_ms"])
    assert e.value.code == 104


def test_installs_offline_with_debians_setuptools():
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = tempfile.mkdtemp()
    shutil.copytree(src, os.path.join(work, "src"), ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    target = os.path.join(work, "site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "--target", target, os.path.join(work, "src")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(target, "fleet_protocol", "_proto", "fleet", "v1", "envelope_pb2.pyi"))
    r = subprocess.run([sys.executable, "-c", "import fleet_protocol as f; print(f.MessageBuilder().sender('a').recipient('b').type('EVENT').build().to_v3().sender)"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": target}, cwd=work, timeout=60)
    assert r.stdout.strip() == "a", r.stderr
    shutil.rmtree(work)


def test_timestamp_milliseconds_round_half_up():
    from google.protobuf.timestamp_pb2 import Timestamp
    from fleet_protocol.signing import ts_ms
    assert ts_ms(Timestamp(seconds=1, nanos=499_999)) == 1000
    assert ts_ms(Timestamp(seconds=1, nanos=500_000)) == 1001  # as the reference runtime (Math.round)
    assert ts_ms(Timestamp(seconds=1, nanos=999_600_000)) == 2000


def test_pin_table_and_key_cache_are_bounded(monkeypatch):
    import fleet_protocol.ed25519 as ed
    import fleet_protocol.signing as sg
    monkeypatch.setattr(sg, "MAX_PINS", 2)
    keys = PinnedKeys()
    keys.pin("a", generate_identity("a").public_key)
    keys.check_binding("b", "ed25519:x")
    with pytest.raises(FleetError) as e:
        keys.check_binding("c", "ed25519:y")
    assert e.value.code == 804 and len(keys.pins) == 2
    monkeypatch.setattr(ed, "_CACHE_MAX", 3)
    ed._CACHE.clear()
    for i in range(10):
        me = generate_identity(f"k{i}")
        assert ed.verify(me.public_key, b"m", me.sign(b"m"))
        assert len(ed._CACHE) <= 3


def test_decoding_errors_come_before_validation_errors():
    # an unknown enum (field 4) and a missing sender (field 2): the enum is a decoding error, found first
    env = build_envelope("a", "b", body=envelope_pb2.Body(application=application({})))
    env.ClearField("sender")
    raw = env.SerializeToString() + bytes([0x20, 99])  # type = 99
    with pytest.raises(FleetError) as e:
        codec.decode(envelope_pb2.Envelope, raw)
    assert (e.value.code, e.value.pointer) == (706, "/type")


def test_json_duplicate_members_and_other_spellings_are_701():
    env = build_envelope("a", "b", body=envelope_pb2.Body(application=application({})))
    text = codec.to_json_bytes(env).decode()
    dup = text.replace('"sender":"a"', '"sender":"a","sender":"b"')
    with pytest.raises(FleetError) as e:
        codec.from_json_bytes(envelope_pb2.Envelope, dup.encode())
    assert (e.value.code, e.value.pointer) == (701, "/sender")
    twice = text.replace('"ttlSeconds":300', '"ttlSeconds":300,"ttl_seconds":300')
    with pytest.raises(FleetError) as e:
        codec.from_json_bytes(envelope_pb2.Envelope, twice.encode())
    assert (e.value.code, e.value.pointer) == (701, "/ttl_seconds")