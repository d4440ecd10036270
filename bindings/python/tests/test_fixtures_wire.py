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
from fleet_protocol.session import session_mac

W = json.load(open(os.path.join(FIXTURES, "wire.json"), encoding="utf-8"))
C = json.load(open(os.path.join(FIXTURES, "crypto.json"), encoding="utf-8"))
TYPES = {c.DESCRIPTOR.full_name: c for c in (envelope_pb2.Envelope, signed_pb2.SignedEnvelope, signed_pb2.SessionEnvelope, signed_pb2.Packet,
                                             token_pb2.TokenClaims, token_pb2.Token, address_pb2.Recipient)}


def test_frame_constants():
    f = W["frame"]
    assert (MAGIC.hex(), VERSION, f["flags"], HEADER_BYTES, MAX_FRAME_BYTES) == (f["magic_hex"], f["version"], 0, f["header_bytes"], f["max_frame_bytes"])


def _verifier_keys() -> PinnedKeys:
    keys = PinnedKeys()
    for k in W.get("keys", []) + C["keys"]:
        keys.pin(k["agent"], bytes.fromhex(k["public_key_hex"]))
    return keys


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
        env = open_signed(se, VerifyContext(keys=_verifier_keys(), replay=None, allow_introduction=True))
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
