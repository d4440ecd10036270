from . import signed_pb2 as _signed_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
GROUP_ROLE_ADMIN: GroupRole
GROUP_ROLE_MEMBER: GroupRole
GROUP_ROLE_OWNER: GroupRole
GROUP_ROLE_UNSPECIFIED: GroupRole
GROUP_SEND_POLICY_ADMINS: GroupSendPolicy
GROUP_SEND_POLICY_MEMBERS: GroupSendPolicy
GROUP_SEND_POLICY_UNSPECIFIED: GroupSendPolicy

class GroupApprove(_message.Message):
    __slots__ = ["agent"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    def __init__(self, agent: _Optional[str] = ...) -> None: ...

class GroupCreate(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: GroupPolicy
    def __init__(self, policy: _Optional[_Union[GroupPolicy, _Mapping]] = ...) -> None: ...

class GroupJoin(_message.Message):
    __slots__ = ["invite"]
    INVITE_FIELD_NUMBER: _ClassVar[int]
    invite: str
    def __init__(self, invite: _Optional[str] = ...) -> None: ...

class GroupKick(_message.Message):
    __slots__ = ["agent"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    def __init__(self, agent: _Optional[str] = ...) -> None: ...

class GroupLeave(_message.Message):
    __slots__ = ["reason"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class GroupMute(_message.Message):
    __slots__ = ["agent", "muted"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MUTED_FIELD_NUMBER: _ClassVar[int]
    agent: str
    muted: bool
    def __init__(self, agent: _Optional[str] = ..., muted: bool = ...) -> None: ...

class GroupPolicy(_message.Message):
    __slots__ = ["join_approval", "send"]
    JOIN_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    join_approval: bool
    send: GroupSendPolicy
    def __init__(self, send: _Optional[_Union[GroupSendPolicy, str]] = ..., join_approval: bool = ...) -> None: ...

class GroupSetPolicy(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: GroupPolicy
    def __init__(self, policy: _Optional[_Union[GroupPolicy, _Mapping]] = ...) -> None: ...

class GroupSetRole(_message.Message):
    __slots__ = ["agent", "role"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    role: GroupRole
    def __init__(self, agent: _Optional[str] = ..., role: _Optional[_Union[GroupRole, str]] = ...) -> None: ...

class GroupStatement(_message.Message):
    __slots__ = ["approve", "at", "create", "group", "join", "kick", "leave", "mute", "prev", "seq", "set_policy", "set_role", "signer", "transfer"]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    KICK_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    MUTE_FIELD_NUMBER: _ClassVar[int]
    PREV_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SET_POLICY_FIELD_NUMBER: _ClassVar[int]
    SET_ROLE_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    approve: GroupApprove
    at: _timestamp_pb2.Timestamp
    create: GroupCreate
    group: str
    join: GroupJoin
    kick: GroupKick
    leave: GroupLeave
    mute: GroupMute
    prev: bytes
    seq: int
    set_policy: GroupSetPolicy
    set_role: GroupSetRole
    signer: str
    transfer: GroupTransfer
    def __init__(self, group: _Optional[str] = ..., seq: _Optional[int] = ..., prev: _Optional[bytes] = ..., signer: _Optional[str] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create: _Optional[_Union[GroupCreate, _Mapping]] = ..., join: _Optional[_Union[GroupJoin, _Mapping]] = ..., approve: _Optional[_Union[GroupApprove, _Mapping]] = ..., leave: _Optional[_Union[GroupLeave, _Mapping]] = ..., kick: _Optional[_Union[GroupKick, _Mapping]] = ..., mute: _Optional[_Union[GroupMute, _Mapping]] = ..., set_role: _Optional[_Union[GroupSetRole, _Mapping]] = ..., transfer: _Optional[_Union[GroupTransfer, _Mapping]] = ..., set_policy: _Optional[_Union[GroupSetPolicy, _Mapping]] = ...) -> None: ...

class GroupTransfer(_message.Message):
    __slots__ = ["agent"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    def __init__(self, agent: _Optional[str] = ...) -> None: ...

class SignedGroupStatement(_message.Message):
    __slots__ = ["signature", "statement"]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    signature: _signed_pb2.Signature
    statement: bytes
    def __init__(self, statement: _Optional[bytes] = ..., signature: _Optional[_Union[_signed_pb2.Signature, _Mapping]] = ...) -> None: ...

class GroupRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class GroupSendPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
