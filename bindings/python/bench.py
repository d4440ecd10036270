"""The Python side of `npm run bench` (suite bench/suites/python.ts): prints one JSON object.

  sign / verify: the binding's sign_envelope and open_signed (every step of spec/signing.md) beside
  raw `cryptography` Ed25519 over the same PAE bytes, in the same process.
  round trip (with --port and --echo): sequential requests from a Python agent through the hub to an
  echo agent, answered; the suite measures a TypeScript agent's the same way."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fleet_protocol import HubClient, PinnedKeys, VerifyContext, generate_identity, open_signed, sign_envelope  # noqa: E402
from fleet_protocol._proto.fleet.v1 import envelope_pb2  # noqa: E402
from fleet_protocol.envelope import application, build_envelope  # noqa: E402
from fleet_protocol.pae import pae  # noqa: E402
from fleet_protocol.replay import ReplayGuard  # noqa: E402
from fleet_protocol.signing import DOMAIN  # noqa: E402


def rate(fn, min_s: float = 0.7, batch: int = 50, max_n: int = 2_000_000) -> float:
    for _ in range(batch):
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s and n < max_n:
        for _ in range(batch):
            fn()
        n += batch
    return n / (time.perf_counter() - t0)


def crypto_rows() -> dict:
    alice = generate_identity("bench-alice")
    env = build_envelope("bench-alice", "bench-bob", body=envelope_pb2.Body(application=application({"task": "index", "shard": 3, "pad": "x" * 120})))
    se = sign_envelope(env, alice)
    message = pae(DOMAIN, se.payload_type, se.payload)
    sk, pk = alice._sk, alice._sk.public_key()
    keys = PinnedKeys()
    keys.pin("bench-alice", alice.public_key)
    ctx = VerifyContext(keys=keys, replay=None)

    def sign_full():
        e = envelope_pb2.Envelope()
        e.CopyFrom(env)
        e.security.nonce = b""
        sign_envelope(e, alice)

    def verify_full():
        open_signed(se, ctx)

    return {
        "raw_sign": rate(lambda: sk.sign(message)),
        "sign_envelope": rate(sign_full),
        "raw_verify": rate(lambda: pk.verify(se.signature.sig, message)),
        "open_signed": rate(verify_full),
        "payload_bytes": len(se.payload),
    }


async def round_trips(port: int, echo: str, n: int) -> dict:
    # a fresh name per run: the hub pins each name to the first key it saw
    async with await HubClient.connect("127.0.0.1", port, generate_identity(f"bench-py-{os.getpid()}")) as c:
        for _ in range(20):
            await c.request(echo, {"warm": True})
        t0 = time.perf_counter()
        for i in range(n):
            await c.request(echo, {"i": i})
        return {"round_trips": n / (time.perf_counter() - t0), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--echo", default="bench-echo")
    ap.add_argument("--n", type=int, default=300)
    a = ap.parse_args()
    out = crypto_rows()
    if a.port:
        out.update(asyncio.run(round_trips(a.port, a.echo, a.n)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
