from . import address_pb2 as _address_pb2
from . import errors_pb2 as _errors_pb2
from . import payload_pb2 as _payload_pb2
from . import signed_pb2 as _signed_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

BOTTLE_STATUS_ACKNOWLEDGED: BottleStatus
BOTTLE_STATUS_DELIVERED: BottleStatus
BOTTLE_STATUS_EXPIRED: BottleStatus
BOTTLE_STATUS_FAILED: BottleStatus
BOTTLE_STATUS_QUEUED: BottleStatus
BOTTLE_STATUS_UNSPECIFIED: BottleStatus
DESCRIPTOR: _descriptor.FileDescriptor

class Bottle(_message.Message):
    __slots__ = ["letter", "postmarks"]
    LETTER_FIELD_NUMBER: _ClassVar[int]
    POSTMARKS_FIELD_NUMBER: _ClassVar[int]
    letter: _signed_pb2.SignedEnvelope
    postmarks: _containers.RepeatedCompositeFieldContainer[Postmark]
    def __init__(self, letter: _Optional[_Union[_signed_pb2.SignedEnvelope, _Mapping]] = ..., postmarks: _Optional[_Iterable[_Union[Postmark, _Mapping]]] = ...) -> None: ...

class BottleLetter(_message.Message):
    __slots__ = ["bottle_id", "condition", "max_hops", "payload", "recipient"]
    BOTTLE_ID_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    MAX_HOPS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    bottle_id: str
    condition: Condition
    max_hops: int
    payload: _payload_pb2.ApplicationPayload
    recipient: _address_pb2.Recipient
    def __init__(self, bottle_id: _Optional[str] = ..., recipient: _Optional[_Union[_address_pb2.Recipient, _Mapping]] = ..., condition: _Optional[_Union[Condition, _Mapping]] = ..., payload: _Optional[_Union[_payload_pb2.ApplicationPayload, _Mapping]] = ..., max_hops: _Optional[int] = ...) -> None: ...

class BottleReceipt(_message.Message):
    __slots__ = ["at", "bottle_id", "detail", "reason", "reporter", "status"]
    AT_FIELD_NUMBER: _ClassVar[int]
    BOTTLE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REPORTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    bottle_id: str
    detail: str
    reason: _errors_pb2.ErrorCode
    reporter: str
    status: BottleStatus
    def __init__(self, bottle_id: _Optional[str] = ..., status: _Optional[_Union[BottleStatus, str]] = ..., reason: _Optional[_Union[_errors_pb2.ErrorCode, str]] = ..., detail: _Optional[str] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reporter: _Optional[str] = ...) -> None: ...

class Condition(_message.Message):
    __slots__ = ["agent_online", "all", "always", "any", "capability_present", "not_before"]
    AGENT_ONLINE_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    ALWAYS_FIELD_NUMBER: _ClassVar[int]
    ANY_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    agent_online: str
    all: ConditionList
    always: bool
    any: ConditionList
    capability_present: str
    not_before: _timestamp_pb2.Timestamp
    def __init__(self, always: bool = ..., agent_online: _Optional[str] = ..., capability_present: _Optional[str] = ..., not_before: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., all: _Optional[_Union[ConditionList, _Mapping]] = ..., any: _Optional[_Union[ConditionList, _Mapping]] = ...) -> None: ...

class ConditionList(_message.Message):
    __slots__ = ["conditions"]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    def __init__(self, conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ...) -> None: ...

class Postmark(_message.Message):
    __slots__ = ["at", "hop", "key_id", "relay", "signature"]
    AT_FIELD_NUMBER: _ClassVar[int]
    HOP_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    RELAY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    hop: int
    key_id: str
    relay: str
    signature: bytes
    def __init__(self, relay: _Optional[str] = ..., key_id: _Optional[str] = ..., hop: _Optional[int] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class BottleStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
