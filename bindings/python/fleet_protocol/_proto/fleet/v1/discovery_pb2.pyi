from . import capabilities_pb2 as _capabilities_pb2
from . import registry_pb2 as _registry_pb2
from . import signed_pb2 as _signed_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DiscoveryBeacon(_message.Message):
    __slots__ = ["agent_id", "capabilities", "endpoints", "hop_count", "issued_at", "key_id", "original", "public_key", "role", "versions"]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    HOP_COUNT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    capabilities: _containers.RepeatedCompositeFieldContainer[_capabilities_pb2.Capability]
    endpoints: _containers.RepeatedScalarFieldContainer[str]
    hop_count: int
    issued_at: _timestamp_pb2.Timestamp
    key_id: str
    original: _signed_pb2.SignedEnvelope
    public_key: bytes
    role: _registry_pb2.AgentRole
    versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., key_id: _Optional[str] = ..., capabilities: _Optional[_Iterable[_Union[_capabilities_pb2.Capability, _Mapping]]] = ..., versions: _Optional[_Iterable[str]] = ..., issued_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., hop_count: _Optional[int] = ..., endpoints: _Optional[_Iterable[str]] = ..., role: _Optional[_Union[_registry_pb2.AgentRole, str]] = ..., public_key: _Optional[bytes] = ..., original: _Optional[_Union[_signed_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...
