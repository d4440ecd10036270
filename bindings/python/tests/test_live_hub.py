"""Live: a Python agent and TypeScript agents (the reference runtime) through the TypeScript hub
started from this repository. Signed messages both ways with receipts, request/response both ways,
a group message, a bottle released when the Python agent comes online, forged and replayed messages
dropped with their codes, and keys made by one runtime used by the other."""
import asyncio
import hashlib
import json
import os
import subprocess
import tempfile

import pytest

from conftest import REPO
from live import NODE, Hub, TsPeer
from fleet_protocol import FileKeystore, FleetError, HubClient, generate_identity
from fleet_protocol._proto.fleet.v1 import receipt_pb2
from fleet_protocol.ed25519 import verify
from fleet_protocol.pae import pae

ACCEPTED = receipt_pb2.RECEIPT_STATUS_ACCEPTED


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


@pytest.fixture(scope="module")
def hub():
    h = Hub()
    try:
        asyncio.run(h.start())
        yield h
    finally:
        h.kill()


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        p.kill()


async def ts_peer(procs, port, agent, *args):
    p = TsPeer(port, agent, *args)
    procs.append(p)
    return await p.start()


def test_both_directions_with_receipts_and_request_response(hub, procs):
    async def main():
        ts = await ts_peer(procs, hub.port, "ts-one")
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-one")) as py:
            # Python -> TypeScript, acknowledged by the hub, verified end to end there
            receipt = await py.send("ts-one", {"n": 1}, requires_ack=True)
            assert receipt.status == ACCEPTED
            got = await ts.message(lambda e: e["sender"] == "py-one" and e["json"] == {"n": 1})
            assert got["verified"] is True
            # TypeScript -> Python, with its receipt; Python verified the signature itself
            done = await ts.do("send", to="py-one", json={"n": 2}, ack=True)
            assert done.get("receipt") == ACCEPTED, done
            async for msg in py:  # the async iterator: verified messages, in order
                break
            assert msg.sender == "ts-one" and msg.json() == {"n": 2} and msg.verified
            assert py.keys.pins["ts-one"] == msg.envelope.security.key_id  # learned through the hub's registry, then pinned
            # Python asks, TypeScript answers
            answer = await py.request("ts-one", {"q": "ping?"})
            assert json.loads(answer.body.application.json) == {"echo": {"q": "ping?"}} and answer.sender == "ts-one"
            # TypeScript asks, Python answers
            ask = asyncio.ensure_future(ts.do("request", to="py-one", json={"q": 7}))
            req = await py.receive(20)
            assert req.json() == {"q": 7}
            await py.reply(req, {"a": 49})
            done = await ask
            assert done["json"] == {"a": 49} and done["sender"] == "py-one"
            # pings: to the hub and to the TypeScript agent (which answers pings itself)
            assert await py.ping() > 0
            assert await py.ping("ts-one") > 0
    run(main())


def test_group_message(hub, procs):
    async def main():
        a = await ts_peer(procs, hub.port, "ts-ops-a", "--groups", "ops")
        b = await ts_peer(procs, hub.port, "ts-ops-b", "--groups", "ops")
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-ops"), groups=("ops",)) as py:
            assert (await py.send("group:ops", {"all": "hands"}, requires_ack=True)).status == ACCEPTED
            for peer in (a, b):
                ev = await peer.message(lambda e: e["sender"] == "py-ops")
                assert ev["json"] == {"all": "hands"} and ev["recipient"] == "group" and ev["verified"]
            await a.do("send", to="group:ops", json={"from": "ts"}, ack=True)
            msg = await py.receive(20)
            assert msg.sender == "ts-ops-a" and msg.envelope.recipient.group == "ops" and msg.verified
    run(main())


def test_bottle_released_when_the_python_agent_comes_online(hub, procs):
    async def main():
        ts = await ts_peer(procs, hub.port, "ts-bottler")
        done = await ts.do("bottle", to="py-late", json={"note": "see you"}, when="agent_online:py-late")
        assert done.get("receipt") == ACCEPTED, done
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-late")) as py:
            msg = await py.receive(20)
            # the origin's letter, verified end to end, after the hub's postmark verified
            assert msg.sender == "ts-bottler" and msg.verified
            letter = msg.envelope.body.bottle_letter
            assert letter.bottle_id == done["bottle_id"] and json.loads(letter.payload.json) == {"note": "see you"}
            status = None
            for _ in range(100):
                status = await py.hub_op("bottle.status", bottle_id=done["bottle_id"])
                if status["status"] == "ACKNOWLEDGED":
                    break
                await asyncio.sleep(0.05)
            assert status["status"] == "ACKNOWLEDGED"
        # and the other way: a Python bottle for a TypeScript agent that is not yet online
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-bottler")) as py:
            assert (await py.send_bottle("ts-late", {"from": "python"})).status == ACCEPTED
            late = await ts_peer(procs, hub.port, "ts-late")
            ev = await late.message(lambda e: e["sender"] == "py-bottler")
            assert ev["json"] == {"from": "python"} and ev["verified"]
    run(main())


def test_forged_and_replayed_messages_are_dropped_with_their_codes(hub, procs):
    async def main():
        ts = await ts_peer(procs, hub.port, "ts-mallory")
        drops = []
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-victim"), on_drop=drops.append) as py:
            await py.send("ts-mallory", {"hello": True}, requires_ack=True)  # so the hub knows both
            await ts.do("forge", to="py-victim", json={"pay": 1000})
            await ts.do("send", to="py-victim", json={"after": "forgery"}, ack=True)
            msg = await py.receive(20)
            assert msg.json() == {"after": "forgery"}  # the forged one never reached the application
            assert [d.code for d in drops] == [601]
            # a replay (the same signed bytes twice) is refused by the hub with 801 to its sender and delivered once
            await ts.do("replay", to="py-victim", json={"once": True})
            ev = await ts.wait(lambda e: e.get("event") == "drop")
            assert ev["code"] == 801
            msg = await py.receive(20)
            assert msg.json() == {"once": True}
            with pytest.raises(asyncio.TimeoutError):
                await py.receive(0.5)
            # Python's replay: the hub refuses the second copy with 801, reported to Python
            from fleet_protocol.envelope import application, build_envelope
            from fleet_protocol._proto.fleet.v1 import envelope_pb2
            env = build_envelope("py-victim", "ts-mallory", body=envelope_pb2.Body(application=application({"dup": 1})))
            await py.send_envelope(env)
            await py.send_envelope(env)
            for _ in range(100):
                if any(d.code == 801 for d in drops):
                    break
                await asyncio.sleep(0.05)
            assert [d.code for d in drops] == [601, 801]
    run(main())


def test_keys_made_by_one_runtime_are_used_by_the_other(hub, procs):
    async def main():
        home = tempfile.mkdtemp(prefix="fleet-py-keys-")
        # TypeScript makes a key (fleet keygen); Python loads it and connects with it
        out = subprocess.run([NODE, os.path.join(REPO, "bin", "fleet.js"), "keygen", "--agent-id", "py:made-by-ts", "--json"],
                             env={**os.environ, "FLEET_HOME": home}, capture_output=True, text=True, timeout=60, check=True)
        made = json.loads(out.stdout.strip().splitlines()[-1])
        ks = FileKeystore(os.path.join(home, "keys"))
        ident = ks.load("py:made-by-ts")
        assert ident.key_id == made["key_id"]
        # Python makes a key; TypeScript's keystore loads it (the TS agent runs on it) and signs with it (fleet sign)
        py_made = generate_identity("ts-made-by-py")
        path = ks.save(py_made)
        assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(ks.dir).st_mode & 0o777 == 0o700
        doc = os.path.join(home, "doc.txt")
        with open(doc, "w") as f:
            f.write("signed by a key Python made\n")
        subprocess.run([NODE, os.path.join(REPO, "bin", "fleet.js"), "sign", doc, "--agent", "ts-made-by-py"], env={**os.environ, "FLEET_HOME": home},
                       capture_output=True, text=True, timeout=60, check=True)
        sig = json.load(open(doc + ".sig"))
        assert sig["key_id"] == py_made.key_id
        from fleet_protocol.identity import from_b64url
        assert verify(py_made.public_key, pae("fleet.v1.file", "doc.txt", hashlib.sha256(open(doc, "rb").read()).digest()), from_b64url(sig["sig"]))
        ts = await ts_peer(procs, hub.port, "ts-made-by-py", "--keys", ks.dir)
        async with await HubClient.connect("127.0.0.1", hub.port, ident) as py:
            await ts.do("send", to="py:made-by-ts", json={"k": "v"}, ack=True)
            msg = await py.receive(20)
            assert msg.envelope.security.key_id == py_made.key_id and msg.verified
            await py.send("ts-made-by-py", {"back": 1}, requires_ack=True)
            ev = await ts.message(lambda e: e["sender"] == "py:made-by-ts")
            assert ev["verified"]
    run(main())


def test_reconnect_after_the_connection_drops(hub, procs):
    async def main():
        ts = await ts_peer(procs, hub.port, "ts-steady")
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-flaky")) as py:
            py._writer.transport.abort()  # the connection dies under the client
            for _ in range(200):
                if py.reconnects:
                    break
                await asyncio.sleep(0.05)
            assert py.reconnects == 1
            assert (await py.send("ts-steady", {"still": "here"}, requires_ack=True)).status == ACCEPTED
            await ts.message(lambda e: e["sender"] == "py-flaky" and e["json"] == {"still": "here"})
    run(main())


def test_inbox_and_outstanding_requests_are_bounded(hub, procs):
    async def main():
        ts = await ts_peer(procs, hub.port, "ts-flood")
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-slow"), max_inbox=2, max_pending=1) as py:
            for i in range(8):
                await ts.do("send", to="py-slow", json={"i": i}, ack=True)
            await asyncio.sleep(0.3)
            assert py.inbox.qsize() <= 2  # unread messages wait in TCP, not in an unbounded queue
            got = [(await py.receive(20)).json()["i"] for _ in range(8)]
            assert got == list(range(8))  # nothing lost, in order
            first = asyncio.ensure_future(py.request("ts-flood", {"q": 1}))
            await asyncio.sleep(0)
            with pytest.raises(FleetError) as e:
                await py.request("ts-flood", {"q": 2})
            assert e.value.code == 804
            assert json.loads((await first).body.application.json) == {"echo": {"q": 1}}
    run(main())


def test_a_json_signed_envelope_from_python_verifies_in_typescript(hub, procs):
    """payload_type application/vnd.fleet.v1.envelope+json: the signature covers the JSON text Python wrote
    (Python's json module, non-ASCII escaped), which the TypeScript agent verifies as received and parses."""
    async def main():
        from fleet_protocol._proto.fleet.v1 import envelope_pb2
        from fleet_protocol.envelope import application, build_envelope
        ts = await ts_peer(procs, hub.port, "ts-json")
        async with await HubClient.connect("127.0.0.1", hub.port, generate_identity("py-json")) as py:
            env = build_envelope("py-json", "ts-json", requires_ack=True, body=envelope_pb2.Body(application=application({"naïve": "✓", "n": 2**53 + 1})))
            receipt = await py.send_envelope(env, payload_type="application/vnd.fleet.v1.envelope+json")
            assert receipt.status == ACCEPTED
            ev = await ts.message(lambda e: e["sender"] == "py-json")
            assert ev["verified"] and ev["json"]["naïve"] == "✓"
    run(main())
