"""An agent's asyncio connection to a Fleet hub over TCP (spec/frame.md, spec/handshake.md, spec/hub.md).

    async with await HubClient.connect("127.0.0.1", 7420, identity) as c:
        receipt = await c.send("beta", {"task": "index"}, requires_ack=True)
        async for msg in c:            # verified envelopes, in order
            ...

Every received message is verified before it is handed over: signed envelopes end to end
(the sender's key pinned on first use, learned from the hub's registry when unknown), session
envelopes by the session MAC. What fails is dropped and reported (``drops``/``on_drop``) with its
code, never handed to the application. Bounds: ``max_inbox`` received messages waiting to be
read (default 1,024; the reader then stops reading the socket, so TCP pushes back), ``max_pending``
outstanding requests and receipts (default 4,096; more is 804), ``drops`` keeps the last 256."""
from __future__ import annotations

import asyncio
import collections
import itertools
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from . import codec
from ._proto.fleet.v1 import (bottle_pb2, capabilities_pb2, envelope_pb2, handshake_pb2, heartbeat_pb2, receipt_pb2, registry_pb2,
                              signed_pb2)
from .envelope import application, build_envelope, recipient
from .errors import ErrorCode, FleetError, fail
from .frame import FrameDecoder, encode_frame
from .handshake import Established, HandshakeInitiator
from .identity import Identity
from .keyid import key_id_for
from .pae import pae, u64be
from .replay import ReplayGuard
from .signing import ENVELOPE_PROTO, PinnedKeys, VerifyContext, open_signed, sign_envelope, ts_ms, now_ms
from . import ed25519

PING_MEDIA_TYPE = "application/vnd.fleet.ping+json"
HUB_OP_MEDIA_TYPE = "application/vnd.fleet.hub-op+json"
MT = envelope_pb2
ACCEPTED = receipt_pb2.RECEIPT_STATUS_ACCEPTED
REJECTED = receipt_pb2.RECEIPT_STATUS_REJECTED


@dataclass
class Message:
    """A received envelope. ``verified``: the sender's signature was checked here, end to end
    (False: only the hub's session vouches for it)."""

    envelope: envelope_pb2.Envelope
    verified: bool

    @property
    def sender(self) -> str:
        return self.envelope.sender

    def json(self) -> Any:
        from .envelope import application_value
        return application_value(self.envelope)


def _capability(text: str) -> capabilities_pb2.Capability:
    name, _, version = text.partition("@")
    return capabilities_pb2.Capability(name=name, version=version)


class HubClient:
    def __init__(self, host: str, port: int, identity: Identity, *, keys: Optional[PinnedKeys] = None, capabilities: tuple[str, ...] = (),
                 groups: tuple[str, ...] = (), role: int = 0, admission_token: str = "", receipt_timeout: float = 3.0, receipt_attempts: int = 3,
                 reconnect: bool = True, max_inbox: int = 1024, max_pending: int = 4096, on_drop: Optional[Callable[[FleetError], None]] = None) -> None:
        self.host, self.port, self.identity = host, port, identity
        self.agent = identity.agent
        self.keys = keys or PinnedKeys()
        self.capabilities, self.groups, self.role = tuple(capabilities), tuple(groups), role
        self.admission_token = admission_token
        self.receipt_timeout, self.receipt_attempts = receipt_timeout, receipt_attempts
        self.reconnect_enabled = reconnect
        self.max_pending = max_pending
        self.on_drop = on_drop
        self.drops: collections.deque[FleetError] = collections.deque(maxlen=256)
        self.inbox: asyncio.Queue[Optional[Message]] = asyncio.Queue(maxsize=max_inbox)
        self.replay = ReplayGuard()
        self.established: Optional[Established] = None
        self.peer: Optional[str] = None
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._waiters: dict[str, asyncio.Future] = {}
        self._receipts: dict[str, asyncio.Future] = {}
        self._signed_queue: asyncio.Queue = asyncio.Queue(maxsize=max_inbox)
        self._tasks: list[asyncio.Task] = []
        self._closed = False
        self._connected = asyncio.Event()
        self._hb_seq = itertools.count(1)
        self.last_error: Optional[FleetError] = None
        self.reconnects = 0

    # ---- lifecycle ----

    @classmethod
    async def connect(cls, host: str, port: int, identity: Identity, **kw: Any) -> "HubClient":
        c = cls(host, port, identity, **kw)
        await c._open()
        c._tasks.append(asyncio.create_task(c._process_signed()))
        return c

    async def __aenter__(self) -> "HubClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _open(self, timeout: float = 10.0) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), timeout)
        decoder = FrameDecoder()
        hs = HandshakeInitiator(self.identity, self.keys, offered=[_capability(c) for c in self.capabilities], admission_token=self.admission_token)
        writer.write(encode_frame(codec.encode(signed_pb2.Packet(signed=hs.hello()))))
        est = None
        async def read_welcome():
            while True:
                data = await reader.read(65536)
                if not data:
                    decoder.end()
                    raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_REJECTED, "hub closed the connection during the handshake")
                for body in decoder.push(data):
                    packet = codec.decode(signed_pb2.Packet, body)
                    if packet.WhichOneof("kind") != "signed":
                        raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_REQUIRED, "a session packet before the handshake completed")
                    return packet.signed, decoder
        try:
            welcome, _ = await asyncio.wait_for(read_welcome(), timeout)
            confirm, est = hs.receive(welcome)
        except BaseException:
            writer.close()
            raise
        writer.write(encode_frame(codec.encode(signed_pb2.Packet(signed=confirm))))
        await writer.drain()
        self.established, self.peer = est, est.peer
        self._reader, self._writer = reader, writer
        self._decoder = decoder
        self._connected.set()
        self._tasks.append(asyncio.create_task(self._read_loop(reader, decoder)))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(writer)))
        if self.groups or self.role:
            await self._register()

    async def _register(self) -> None:
        record = registry_pb2.AgentRecord(agent_id=self.agent, key_id=self.identity.key_id, public_key=self.identity.public_key, role=self.role,
                                          groups=list(self.groups), capabilities=[_capability(c) for c in self.capabilities], versions=[self.established.version])
        entry = registry_pb2.RegistryEntry(key=f"agent/{self.agent}", version=registry_pb2.Hlc(wall_ms=now_ms(), logical=0, node=self.agent), agent=record)
        await self.send_body("fleet:hub", envelope_pb2.Body(registry_delta=registry_pb2.RegistryDelta(node=self.agent, entries=[entry])),
                             type=MT.MESSAGE_TYPE_COMMAND, requires_ack=True, sign=False)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            try:
                await self._writer.drain()
            except (ConnectionError, OSError):
                pass
            self._writer.close()
        for t in self._tasks:
            t.cancel()
        self._fail_pending(fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, "connection closed"))
        try:
            self.inbox.put_nowait(None)
        except asyncio.QueueFull:
            pass

    def _fail_pending(self, err: FleetError) -> None:
        for fut in list(self._waiters.values()) + list(self._receipts.values()):
            if not fut.done():
                fut.set_exception(err)
        self._waiters.clear()
        self._receipts.clear()

    async def _connection_lost(self, err: Optional[FleetError]) -> None:
        self._connected.clear()
        if self._closed:
            return
        if not self.reconnect_enabled:
            self.last_error = err
            await self.close()
            return
        # Reconnect with a doubling backoff (0.1 s .. 2 s); unacknowledged sends are retried by their trackers.
        delay = 0.1
        for _ in range(60):
            if self._closed:
                return
            try:
                await asyncio.sleep(delay)
                await self._open()
                self.reconnects += 1
                return
            except (OSError, FleetError, asyncio.TimeoutError):
                delay = min(delay * 2, 2.0)
        self.last_error = fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, "could not reconnect to the hub")
        await self.close()

    # ---- writing ----

    def _write_packet(self, packet: signed_pb2.Packet) -> None:
        if self._writer is None or not self._connected.is_set():
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, "not connected to the hub")
        self._writer.write(encode_frame(codec.encode(packet), self.established.max_frame_bytes))

    def _seal(self, env: envelope_pb2.Envelope) -> signed_pb2.Packet:
        return signed_pb2.Packet(session=self.established.session.seal(env))

    async def send_envelope(self, env: envelope_pb2.Envelope, *, sign: bool = True, payload_type: str = ENVELOPE_PROTO) -> Optional[receipt_pb2.Receipt]:
        """Sends a built envelope. With requires_ack, the same id is retried until the hub's receipt
        (ACCEPTED returns it; REJECTED raises its code; no receipt after the attempts: 805).
        ``payload_type`` picks the signed form: binary (default) or application/vnd.fleet.v1.envelope+json."""
        if self._closed:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, "connection is closed")
        signed = signed_pb2.Packet(signed=sign_envelope(env, self.identity, payload_type)) if sign else None
        def write() -> None:
            self._write_packet(signed if signed is not None else self._seal(env))
        if not env.requires_ack:
            write()
            await self._writer.drain()
            return None
        if len(self._receipts) + len(self._waiters) >= self.max_pending:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, f"{self.max_pending} sends and requests outstanding")
        fut = asyncio.get_running_loop().create_future()
        self._receipts[env.id] = fut
        try:
            for attempt in range(self.receipt_attempts):
                try:
                    await asyncio.wait_for(self._connected.wait(), self.receipt_timeout * 3)
                    write()
                    await self._writer.drain()
                except (FleetError, ConnectionError, OSError, asyncio.TimeoutError):
                    pass
                try:
                    receipt = await asyncio.wait_for(asyncio.shield(fut), self.receipt_timeout)
                except asyncio.TimeoutError:
                    continue
                if receipt.status == REJECTED:
                    raise fail(receipt.code or ErrorCode.ERROR_CODE_UNKNOWN_ERROR, receipt.detail or f"rejected {env.id}")
                return receipt
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, f"no receipt for {env.id} after {self.receipt_attempts} attempts")
        finally:
            self._receipts.pop(env.id, None)

    async def send(self, to: str, json: Any = None, *, data: Optional[bytes] = None, media_type: Optional[str] = None,
                   type: int = MT.MESSAGE_TYPE_EVENT, requires_ack: bool = False, sign: bool = True, **kw: Any) -> Optional[receipt_pb2.Receipt]:
        """Sends application JSON (or bytes) to an agent, "group:g", "capability:c" or "fleet:broadcast"."""
        body = envelope_pb2.Body(application=application(json, data=data, media_type=media_type))
        return await self.send_envelope(build_envelope(self.agent, to, type=type, body=body, requires_ack=requires_ack, **kw), sign=sign)

    async def send_body(self, to: str, body: envelope_pb2.Body, *, type: int = MT.MESSAGE_TYPE_EVENT, requires_ack: bool = False, sign: bool = True,
                        **kw: Any) -> Optional[receipt_pb2.Receipt]:
        return await self.send_envelope(build_envelope(self.agent, to, type=type, body=body, requires_ack=requires_ack, **kw), sign=sign)

    async def request_envelope(self, env: envelope_pb2.Envelope, *, sign: bool = True, timeout: float = 10.0) -> envelope_pb2.Envelope:
        """Sends and resolves with the first envelope whose in_reply_to names it (an ERROR or REJECTED answer raises its code)."""
        if len(self._receipts) + len(self._waiters) >= self.max_pending:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, f"{self.max_pending} sends and requests outstanding")
        fut = asyncio.get_running_loop().create_future()
        self._waiters[env.id] = fut
        try:
            await self.send_envelope(env, sign=sign)
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, f"no answer to {env.id} within {timeout} s") from None
        finally:
            self._waiters.pop(env.id, None)

    async def request(self, to: str, json: Any = None, *, timeout: float = 10.0, sign: bool = True, media_type: Optional[str] = None,
                      type: int = MT.MESSAGE_TYPE_REQUEST) -> envelope_pb2.Envelope:
        env = build_envelope(self.agent, to, type=type, body=envelope_pb2.Body(application=application(json, media_type=media_type)))
        return await self.request_envelope(env, sign=sign, timeout=timeout)

    async def reply(self, to: Message | envelope_pb2.Envelope, json: Any = None, *, sign: bool = True, **kw: Any) -> None:
        env = to.envelope if isinstance(to, Message) else to
        await self.send(env.sender, json, type=MT.MESSAGE_TYPE_RESPONSE, in_reply_to=env.id, correlation_id=env.correlation_id, sign=sign, **kw)

    async def query_registry(self, *, capability: str = "", agent_id: str = "", online_only: bool = False, max_pages: int = 256) -> registry_pb2.RegistryQueryResult:
        """Every matching agent: one answer holds at most 256, so a truncated one is read on
        with after_agent_id (spec/registry.md "Query answers"), at most max_pages answers."""
        result = registry_pb2.RegistryQueryResult()
        after = ""
        for _ in range(max_pages):
            query = registry_pb2.RegistryQuery(capability=capability, agent_id=agent_id, online_only=online_only, after_agent_id=after)
            env = build_envelope(self.agent, "fleet:hub", type=MT.MESSAGE_TYPE_QUERY, body=envelope_pb2.Body(registry_query=query))
            answer = await self.request_envelope(env, sign=False)
            if answer.body.WhichOneof("kind") != "registry_query_result":
                raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "the hub answered a registry query with something else")
            page = answer.body.registry_query_result
            result.agents.extend(page.agents)
            result.health.extend(page.health)
            if not page.truncated or not page.agents or page.agents[-1].agent_id == after:
                return result
            after = page.agents[-1].agent_id
        raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, f"the registry answer is longer than {max_pages} pages; narrow the query")

    async def ping(self, to: str = "fleet:hub", timeout: float = 10.0) -> float:
        """Round trip in seconds to the hub or an online agent."""
        t0 = time.perf_counter()
        await self.request(to, {}, media_type=PING_MEDIA_TYPE, type=MT.MESSAGE_TYPE_QUERY, sign=(to != "fleet:hub"), timeout=timeout)
        return time.perf_counter() - t0

    async def hub_op(self, op: str, **args: Any) -> Any:
        from .envelope import application_value
        answer = await self.request("fleet:hub", {"op": op, **args}, media_type=HUB_OP_MEDIA_TYPE, type=MT.MESSAGE_TYPE_QUERY, sign=False)
        return application_value(answer)

    async def send_bottle(self, to: str, json: Any, *, condition: Optional[bottle_pb2.Condition] = None, bottle_id: Optional[str] = None,
                          ttl_seconds: int = 86_400, max_hops: int = 0) -> Optional[receipt_pb2.Receipt]:
        """A bottle (spec/bottles.md) held by the hub until ``condition`` (default: always) holds and ``to`` is online."""
        import uuid
        bid = bottle_id or str(uuid.uuid4())
        letter = bottle_pb2.BottleLetter(bottle_id=bid, recipient=recipient(to), condition=condition or bottle_pb2.Condition(always=True),
                                         payload=application(json), max_hops=max_hops)
        letter_env = build_envelope(self.agent, to, type=MT.MESSAGE_TYPE_EVENT, ttl_seconds=ttl_seconds, body=envelope_pb2.Body(bottle_letter=letter))
        bottle = bottle_pb2.Bottle(letter=sign_envelope(letter_env, self.identity))
        return await self.send_body("fleet:hub", envelope_pb2.Body(bottle=bottle), type=MT.MESSAGE_TYPE_COMMAND, requires_ack=True, sign=False)

    # ---- receiving ----

    def __aiter__(self) -> "HubClient":
        return self

    async def __anext__(self) -> Message:
        msg = await self.inbox.get()
        if msg is None:
            self.inbox.put_nowait(None)
            raise StopAsyncIteration
        return msg

    async def receive(self, timeout: Optional[float] = None) -> Message:
        msg = await asyncio.wait_for(self.__anext__(), timeout)
        return msg

    def _drop(self, err: FleetError) -> None:
        self.drops.append(err)
        if self.on_drop:
            try:
                self.on_drop(err)
            except Exception:  # noqa: BLE001 - a handler's failure is its own
                pass

    async def _read_loop(self, reader: asyncio.StreamReader, decoder: FrameDecoder) -> None:
        err: Optional[FleetError] = None
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    decoder.end()
                    break
                for body in decoder.push(data):
                    await self._frame(body)
        except FleetError as e:
            err = e
        except (ConnectionError, OSError):
            err = fail(ErrorCode.ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE, "connection lost")
        except asyncio.CancelledError:
            return
        if reader is self._reader:
            asyncio.create_task(self._connection_lost(err))

    async def _frame(self, body: bytes) -> None:
        try:
            packet = codec.decode(signed_pb2.Packet, body)
        except FleetError as e:
            self._drop(e)
            return
        if packet.WhichOneof("kind") == "signed":
            await self._signed_queue.put(("signed", packet.signed))
            return
        try:
            opened = self.established.session.open_all(packet.session)
        except FleetError as e:
            self._drop(e)
            return
        for env in opened:
            if isinstance(env, FleetError):
                self._drop(env)
            elif not self._answer(env):
                # handed over in order, after signed messages that arrived earlier (their key lookups
                # and bottle letters may wait for the hub's answers, which this reader must keep reading)
                await self._signed_queue.put(("session", env))

    async def _process_signed(self) -> None:
        """Received messages in arrival order; an unknown signer's key is learned from the hub's registry first."""
        while True:
            kind, item = await self._signed_queue.get()
            if kind == "session":
                await self._dispatch(item, verified=False)
                continue
            try:
                env = await self._open_signed(item)
            except FleetError as e:
                self._drop(e)
                continue
            if not self._answer(env):
                await self._dispatch(env, verified=True)

    async def _open_signed(self, se: signed_pb2.SignedEnvelope) -> envelope_pb2.Envelope:
        kid = se.signature.key_id
        if kid not in self.keys.keys:
            # Only the claimed name is read before verification, to know whose key to ask the hub for.
            try:
                from .signing import parse_envelope
                claimed = parse_envelope(se.payload_type, se.payload).sender
                found = await self.query_registry(agent_id=claimed)
                for a in found.agents:
                    if a.agent_id == claimed and key_id_for(a.public_key) == kid and claimed not in self.keys.pins:
                        self.keys.pin(claimed, a.public_key)
            except FleetError:
                pass  # verification below reports 601 for an unknown signer
        env = open_signed(se, VerifyContext(keys=self.keys, replay=None))
        # freshness and replay (spec/signing.md step 5); a duplicate is still acknowledged so the hub stops redelivering it
        try:
            self.replay.check(env.sender, env.id, ts_ms(env.created_at), env.ttl_seconds, now_ms())
        except FleetError as e:
            if e.code == ErrorCode.ERROR_CODE_SECURITY_REPLAY and env.requires_ack:
                self._ack_to_hub(env.id)
            raise
        return env

    def _answer(self, env: envelope_pb2.Envelope) -> bool:
        """Receipts from the hub and answers to waiting requests."""
        kind = env.body.WhichOneof("kind") if env.HasField("body") else None
        if kind == "receipt" and env.sender == self.peer:
            fut = self._receipts.get(env.body.receipt.message_id)
            if fut is not None and not fut.done():
                fut.set_result(env.body.receipt)
            waiter = self._waiters.get(env.body.receipt.message_id)
            if waiter is not None and env.body.receipt.status == REJECTED and not waiter.done():
                waiter.set_exception(fail(env.body.receipt.code, env.body.receipt.detail or "rejected"))
            return True
        waiter = self._waiters.get(env.in_reply_to) if env.in_reply_to else None
        if waiter is None:
            return False
        if env.requires_ack:
            self._ack_to_hub(env.id)
        if not waiter.done():
            if kind == "error":
                waiter.set_exception(fail(env.body.error.code, env.body.error.message or "error", env.body.error.pointer))
            else:
                waiter.set_result(env)
        return True

    def _ack_to_hub(self, message_id: str) -> None:
        env = build_envelope(self.agent, "fleet:hub", type=MT.MESSAGE_TYPE_STATUS, ttl_seconds=60,
                             body=envelope_pb2.Body(receipt=receipt_pb2.Receipt(message_id=message_id, status=ACCEPTED)))
        try:
            self._write_packet(self._seal(env))
        except FleetError:
            pass  # not connected: the hub redelivers, and the duplicate is acknowledged then

    async def _dispatch(self, env: envelope_pb2.Envelope, verified: bool) -> None:
        if env.requires_ack:
            self._ack_to_hub(env.id)
        kind = env.body.WhichOneof("kind") if env.HasField("body") else None
        if kind == "error" and env.sender == self.peer:
            err = fail(env.body.error.code, env.body.error.message or "error", env.body.error.pointer)
            if not env.in_reply_to:
                self.last_error = err
            self._drop(err)
            return
        if kind == "heartbeat":
            return
        if kind == "application" and env.body.application.media_type == PING_MEDIA_TYPE and env.type != MT.MESSAGE_TYPE_RESPONSE:
            try:
                await self.send_body(env.sender, env.body, type=MT.MESSAGE_TYPE_RESPONSE, in_reply_to=env.id, sign=verified)
            except FleetError as e:
                self._drop(e)
            return
        if kind == "bottle":
            try:
                env = await self._open_bottle(env.body.bottle)
                verified = True
            except FleetError as e:
                self._drop(e)
                return
        await self.inbox.put(Message(env, verified))

    async def _open_bottle(self, bottle: bottle_pb2.Bottle) -> envelope_pb2.Envelope:
        """The origin's letter, verified end to end, once every relay's postmark verifies (spec/bottles.md)."""
        if not bottle.HasField("letter"):
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, "bottle without a letter", "/body/bottle/letter")
        letter_env = await self._open_signed_letter(bottle.letter)
        if letter_env.body.WhichOneof("kind") != "bottle_letter":
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "a bottle's letter must carry a BottleLetter", "/body/bottle/letter")
        verify_postmarks(bottle, letter_env.body.bottle_letter.bottle_id, self.keys)
        return letter_env

    async def _open_signed_letter(self, se: signed_pb2.SignedEnvelope) -> envelope_pb2.Envelope:
        kid = se.signature.key_id
        if kid not in self.keys.keys:
            from .signing import parse_envelope
            claimed = parse_envelope(se.payload_type, se.payload).sender
            found = await self.query_registry(agent_id=claimed)
            for a in found.agents:
                if a.agent_id == claimed and key_id_for(a.public_key) == kid and claimed not in self.keys.pins:
                    self.keys.pin(claimed, a.public_key)
        env = open_signed(se, VerifyContext(keys=self.keys, replay=None))
        # a bottle's letter may be older than the skew window (it waited); only its expiry matters
        if now_ms() >= ts_ms(env.created_at) + env.ttl_seconds * 1000:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_EXPIRED, f"bottle letter {env.id} expired")
        return env

    async def _heartbeat_loop(self, writer: asyncio.StreamWriter) -> None:
        interval = (self.established.heartbeat.interval_ms or 5000) / 1000
        while True:
            await asyncio.sleep(interval)
            if writer is not self._writer or self._closed:
                return
            env = build_envelope(self.agent, "fleet:hub", type=MT.MESSAGE_TYPE_STATUS, ttl_seconds=60,
                                 body=envelope_pb2.Body(heartbeat=heartbeat_pb2.Heartbeat(sequence=next(self._hb_seq))))
            try:
                self._write_packet(self._seal(env))
            except FleetError:
                return


def verify_postmarks(bottle: bottle_pb2.Bottle, bottle_id: str, keys: PinnedKeys) -> None:
    """Each postmark in order: hop = index + 1, the relay's key known and bound to its name, and the
    Ed25519 signature over PAE("fleet.v1.postmark", ...) chaining the previous one (601 otherwise)."""
    import hashlib
    letter_hash = hashlib.sha256(bottle.letter.payload).digest()
    previous = b""
    for i, pm in enumerate(bottle.postmarks):
        at = f"/body/bottle/postmarks/{i}"
        if pm.hop != i + 1:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"postmark {i} has hop {pm.hop}", at)
        pub = keys.keys.get(pm.key_id)
        if pub is None or keys.pins.get(pm.relay) != pm.key_id:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"relay {pm.relay}'s key {pm.key_id} is not known", at)
        msg = pae("fleet.v1.postmark", bottle_id, pm.relay, pm.key_id, u64be(pm.hop), u64be(ts_ms(pm.at)), previous, letter_hash)
        if not ed25519.verify(pub, msg, pm.signature):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"postmark {i} does not verify", at)
        previous = pm.signature
