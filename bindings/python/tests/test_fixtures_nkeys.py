"""fixtures/nkeys.json checked from the file alone: each key's NATS user nkey and seed recomputed
and decoded back, and every malformed text refused with its code (spec/nats-auth.md)."""
import json
import os

import pytest

from conftest import FIXTURES
from fleet_protocol.errors import FleetError, code_name
from fleet_protocol.identity import identity_from_seed
from fleet_protocol.keyid import key_id_for
from fleet_protocol.nkey import crc16, public_key_of_user_nkey, user_nkey, user_seed

N = json.load(open(os.path.join(FIXTURES, "nkeys.json"), encoding="utf-8"))
H = bytes.fromhex
KEYS = {k["agent"]: k for k in N["keys"]}


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x31C3


@pytest.mark.parametrize("k", N["keys"], ids=lambda k: k["agent"])
def test_key(k):
    assert identity_from_seed(k["agent"], H(k["seed_hex"])).public_key.hex() == k["public_key_hex"]
    assert key_id_for(H(k["public_key_hex"])) == k["key_id"]


@pytest.mark.parametrize("v", N["nkeys"], ids=lambda v: v["name"])
def test_nkey(v):
    k = KEYS[v["agent"]]
    assert user_nkey(H(k["public_key_hex"])) == v["user_nkey"]
    assert user_seed(H(k["seed_hex"])) == v["user_seed"]
    assert public_key_of_user_nkey(v["user_nkey"]).hex() == k["public_key_hex"]


@pytest.mark.parametrize("v", N["negative"], ids=lambda v: v["name"])
def test_negative(v):
    assert v["kind"] == "user_nkey"
    assert code_name(v["code"]) == v["code_name"]
    with pytest.raises(FleetError) as e:
        public_key_of_user_nkey(v["text"])
    assert e.value.code == v["code"]
