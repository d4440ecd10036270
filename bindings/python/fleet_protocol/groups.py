"""Group statements (spec/groups.md): verify one signed statement, fold a chain into the group's state.

Written from spec/groups.md. A refused statement raises FleetError (code, pointer) and leaves the
state as it was: ``apply_statement`` returns a new state, never changing the one it was given."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

from . import codec, ed25519
from ._proto.fleet.v1 import group_pb2, signed_pb2
from .errors import ErrorCode, FleetError, fail
from .keyid import key_id_for
from .pae import pae
from .signing import ts_ms
from .token import verify_token

DOMAIN = "fleet.v1.group-statement"
PAYLOAD_TYPE = "application/vnd.fleet.v1.group-statement+proto"
INVITE_SCOPE = "group:join"
MAX_STATEMENT_BYTES = 16_384
MAX_GROUP_MEMBERS = 4096  # members plus pending agents
MAX_COUNTED_INVITES = 4096
MAX_GROUP_KEYS = 65_536

Role = group_pb2.GroupRole
OWNER, ADMIN, MEMBER = Role.Value("GROUP_ROLE_OWNER"), Role.Value("GROUP_ROLE_ADMIN"), Role.Value("GROUP_ROLE_MEMBER")
SEND_ADMINS = group_pb2.GroupSendPolicy.Value("GROUP_SEND_POLICY_ADMINS")

_BAD_SIG = ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID
_MISMATCH = ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH
_DENIED = ErrorCode.ERROR_CODE_SECURITY_UNAUTHORIZED
_REPLAY = ErrorCode.ERROR_CODE_SECURITY_REPLAY
_MISSING = ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD
_BUSY = ErrorCode.ERROR_CODE_DELIVERY_BUSY


@dataclass(frozen=True)
class GroupKey:
    agent: str
    public_key: bytes
    valid_from_ms: int
    valid_until_ms: Optional[int] = None  # None: not rotated out

    def live_at(self, at_ms: int) -> bool:
        return self.valid_from_ms <= at_ms and (self.valid_until_ms is None or at_ms < self.valid_until_ms)


class KeyHistory:
    """Every key an agent has signed with and its window [valid_from, valid_until); at most MAX_GROUP_KEYS (804)."""

    def __init__(self) -> None:
        self.by_key_id: dict[str, GroupKey] = {}

    def add(self, agent: str, public_key: bytes, valid_from_ms: int, valid_until_ms: Optional[int] = None) -> str:
        kid = key_id_for(ed25519.check_public_key(public_key))
        if kid not in self.by_key_id and len(self.by_key_id) >= MAX_GROUP_KEYS:
            raise fail(_BUSY, f"key history is full ({MAX_GROUP_KEYS} keys)")
        self.by_key_id[kid] = GroupKey(agent, bytes(public_key), valid_from_ms, valid_until_ms)
        return kid


class _KeysAt:
    """The shape verify_token reads (``keys``, ``pins``): every known key verifies a signature, and
    an agent is bound to the keys live at the join's time (so a rotated-out issuer key is 607)."""

    def __init__(self, history: KeyHistory, at_ms: int) -> None:
        self.keys = {kid: k.public_key for kid, k in history.by_key_id.items()}
        self.pins = _LivePins(history, at_ms)


class _LivePins:
    def __init__(self, history: KeyHistory, at_ms: int) -> None:
        self.history, self.at = history, at_ms

    def get(self, agent: str) -> Optional[str]:
        for kid, k in self.history.by_key_id.items():
            if k.agent == agent and k.live_at(self.at):
                return kid
        return None


@dataclass(frozen=True)
class Member:
    role: int
    muted: bool = False


@dataclass(frozen=True)
class GroupState:
    group: str
    seq: int
    head: bytes  # SHA-256 of the last statement's GroupStatement bytes
    at_ms: int
    owner: str
    send: int
    join_approval: bool
    members: dict = field(default_factory=dict)  # agent -> Member
    pending: frozenset = frozenset()
    invite_uses: dict = field(default_factory=dict)  # token_id -> joins in the chain that carried it


@dataclass(frozen=True)
class Opened:
    statement: group_pb2.GroupStatement
    statement_bytes: bytes
    key_id: str
    at_ms: int


def statement_signing_bytes(statement_bytes: bytes) -> bytes:
    return pae(DOMAIN, PAYLOAD_TYPE, statement_bytes)


def open_statement(data: bytes, keys: KeyHistory) -> Opened:
    """Steps 1-3: canonical bytes signed by a known key, a valid statement with an action, its signer the key's agent inside its window."""
    data = bytes(data)
    if len(data) > MAX_STATEMENT_BYTES:
        raise fail(_BAD_SIG, f"a signed statement is at most {MAX_STATEMENT_BYTES} bytes")
    try:
        signed = codec.decode(group_pb2.SignedGroupStatement, data, check=False)
    except FleetError:
        raise fail(_BAD_SIG, "not a fleet.v1.SignedGroupStatement") from None
    if codec.encode(signed, check=False) != data:
        raise fail(_BAD_SIG, "signed statement is not in its one encoding")
    sig = signed.signature
    if sig.scheme != signed_pb2.SIGNATURE_SCHEME_ED25519:
        raise fail(_BAD_SIG, "a statement is signed with Ed25519", "/signature/scheme")
    if len(sig.sig) != 64:
        raise fail(_BAD_SIG, "an Ed25519 signature is 64 bytes", "/signature/sig")
    key = keys.by_key_id.get(sig.key_id)
    if key is None:
        raise fail(_BAD_SIG, f"unknown key {sig.key_id}", "/signature/keyId")
    if not ed25519.verify(key.public_key, statement_signing_bytes(signed.statement), sig.sig):
        raise fail(_BAD_SIG, "statement signature does not verify", "/signature/sig")
    s = codec.decode(group_pb2.GroupStatement, signed.statement)
    if s.WhichOneof("action") is None:
        raise fail(_MISSING, "a statement needs an action", "/action")
    if s.signer != key.agent:
        raise fail(_MISMATCH, f"key {sig.key_id} is {key.agent}'s, not {s.signer}'s", "/signer")
    at = ts_ms(s.at)
    if not key.live_at(at):
        raise fail(_MISMATCH, f"key {sig.key_id} was not {s.signer}'s key at {at}", "/signature/keyId")
    return Opened(s, bytes(signed.statement), sig.key_id, at)


def _policy(p: group_pb2.GroupPolicy, has: bool, pointer: str) -> tuple[int, bool]:
    if not has or p.send == 0:
        raise fail(_MISSING, "policy.send is required", pointer)
    return p.send, p.join_approval


def _refuse(message: str, pointer: str) -> FleetError:
    return fail(_DENIED, message, pointer)


def _check_invite(invite: str, state: GroupState, signer: str, signer_key_id: str, at: int, keys: KeyHistory, uses: dict) -> str:
    """Token steps 1-6 at the join's time with no skew, uses counted in the chain; then the subject. Returns the issuer."""
    class ChainUses:
        def consume(self, token_id: str, max_uses: int, _keep_until_ms: int) -> bool:
            n = uses.get(token_id, 0)
            if n >= max_uses:
                return False
            uses[token_id] = n + 1
            return True

    claims = verify_token(invite, keys=_KeysAt(keys, at), audience=f"group:{state.group}", scope=INVITE_SCOPE,
                          clock=lambda: at, skew_ms=0, uses=ChainUses(),
                          # any key the group's history knows; that its agent is an admin or the owner is checked below
                          trusted_issuer=lambda kid: kid in keys.by_key_id)
    if claims.subject:
        presented = signer_key_id if claims.subject.startswith("ed25519:") else signer
        if claims.subject != presented:
            raise _refuse(f"invite is for {claims.subject}", "/subject")
    return claims.issuer


def apply_statement(state: Optional[GroupState], data: bytes, keys: KeyHistory) -> GroupState:
    """Verifies and applies one signed statement; returns the new state (the given one is unchanged)."""
    o = open_statement(data, keys)
    s, signer = o.statement, o.statement.signer
    head = hashlib.sha256(o.statement_bytes).digest()
    action = s.WhichOneof("action")
    if state is None:
        if action != "create":
            raise _refuse(f"group {s.group} does not exist (its chain starts with a create)", "/action")
        if s.seq != 1 or s.prev:
            raise fail(_REPLAY, "a create is seq 1 with no prev", "/seq")
        send, approval = _policy(s.create.policy, s.create.HasField("policy"), "/create/policy/send")
        return GroupState(s.group, 1, head, o.at_ms, signer, send, approval, {signer: Member(OWNER)})
    # 4. chain position
    if s.group != state.group:
        raise _refuse(f"statement is about {s.group}, not {state.group}", "/group")
    if s.seq != state.seq + 1:
        raise fail(_REPLAY, f"seq {s.seq} does not follow the head's {state.seq}", "/seq")
    if not hmac.compare_digest(s.prev, state.head):
        raise fail(_REPLAY, "prev is not the head's hash", "/prev")
    if o.at_ms < state.at_ms:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_CLOCK_SKEW, "statement is dated before the head", "/at")
    # 5. the action
    members, pending, uses = dict(state.members), set(state.pending), state.invite_uses
    owner, send, approval = state.owner, state.send, state.join_approval
    me = members.get(signer)

    def need_admin() -> None:
        if me is None or me.role not in (ADMIN, OWNER):
            raise _refuse(f"{signer} is not an admin of {state.group}", "/signer")

    def need_owner() -> None:
        if signer != owner:
            raise _refuse(f"{signer} is not the owner of {state.group}", "/signer")

    def room() -> None:
        if len(members) + len(pending) >= MAX_GROUP_MEMBERS:
            raise fail(_BUSY, f"{state.group} has {MAX_GROUP_MEMBERS} members and pending agents")

    def act_on(agent: str, pointer: str) -> None:
        if agent == owner:
            raise _refuse("the owner is never kicked or muted", pointer)
        m = members.get(agent)
        if m is not None and m.role == ADMIN and signer != owner:
            raise _refuse(f"only the owner acts on admin {agent}", pointer)

    if action == "create":
        raise fail(_REPLAY, f"{state.group} already exists", "/create")
    elif action == "join":
        if signer in members or signer in pending:
            raise _refuse(f"{signer} is already in {state.group}", "/signer")
        uses = dict(uses)
        issuer = _check_invite(s.join.invite, state, signer, o.key_id, o.at_ms, keys, uses)
        im = members.get(issuer)
        if im is None or im.role not in (ADMIN, OWNER):
            raise _refuse(f"invite issuer {issuer} is not an admin of {state.group}", "/join/invite")
        if len(uses) > MAX_COUNTED_INVITES:
            raise fail(_BUSY, f"{state.group} counts {MAX_COUNTED_INVITES} limited invites")
        room()
        if approval:
            pending.add(signer)
        else:
            members[signer] = Member(MEMBER)
    elif action == "approve":
        need_admin()
        agent = s.approve.agent
        if agent in members:
            raise _refuse(f"{agent} is already a member", "/approve/agent")
        if agent in pending:
            pending.discard(agent)
        else:
            room()
        members[agent] = Member(MEMBER)
    elif action == "leave":
        if signer == owner:
            raise _refuse("the owner transfers ownership before leaving", "/leave")
        if signer not in members and signer not in pending:
            raise _refuse(f"{signer} is not in {state.group}", "/signer")
        members.pop(signer, None)
        pending.discard(signer)
    elif action == "kick":
        need_admin()
        agent = s.kick.agent
        act_on(agent, "/kick/agent")
        if agent not in members and agent not in pending:
            raise _refuse(f"{agent} is not in {state.group}", "/kick/agent")
        members.pop(agent, None)
        pending.discard(agent)
    elif action == "mute":
        need_admin()
        agent = s.mute.agent
        act_on(agent, "/mute/agent")
        if agent not in members:
            raise _refuse(f"{agent} is not a member of {state.group}", "/mute/agent")
        members[agent] = replace(members[agent], muted=s.mute.muted)
    elif action == "set_role":
        need_owner()
        agent, role = s.set_role.agent, s.set_role.role
        if role not in (MEMBER, ADMIN):
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "set_role makes a member or an admin", "/setRole/role")
        if agent not in members or agent == owner:
            raise _refuse(f"{agent} is not a member whose role can change", "/setRole/agent")
        members[agent] = replace(members[agent], role=role)
    elif action == "transfer":
        need_owner()
        agent = s.transfer.agent
        if agent not in members or agent == owner:
            raise _refuse(f"{agent} is not a member to transfer to", "/transfer/agent")
        members[agent] = Member(OWNER)
        members[owner] = Member(ADMIN)
        owner = agent
    elif action == "set_policy":
        need_admin()
        send, approval = _policy(s.set_policy.policy, s.set_policy.HasField("policy"), "/setPolicy/policy/send")
    return GroupState(state.group, s.seq, head, o.at_ms, owner, send, approval, members, frozenset(pending), uses)


def fold_group(statements: Iterable[bytes], keys: KeyHistory) -> GroupState:
    """Folds a whole chain, first statement first (an empty chain is no group: 707)."""
    state: Optional[GroupState] = None
    for data in statements:
        state = apply_statement(state, data, keys)
    if state is None:
        raise fail(_MISSING, "a group chain starts with its create statement")
    return state


def may_send(state: GroupState, agent: str) -> bool:
    """A member, not muted, and in an announce channel an admin or the owner (pending agents never)."""
    m = state.members.get(agent)
    return m is not None and not m.muted and (state.send != SEND_ADMINS or m.role in (ADMIN, OWNER))


def check_send(state: GroupState, agent: str) -> None:
    if not may_send(state, agent):
        raise _refuse(f"{agent} may not send to {state.group}", "/recipient/group")
