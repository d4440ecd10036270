from . import capabilities_pb2 as _capabilities_pb2
from . import errors_pb2 as _errors_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HandshakeConfirm(_message.Message):
    __slots__ = ["finished", "responder_nonce", "session_id"]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    RESPONDER_NONCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    finished: bytes
    responder_nonce: bytes
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., responder_nonce: _Optional[bytes] = ..., finished: _Optional[bytes] = ...) -> None: ...

class HeartbeatParams(_message.Message):
    __slots__ = ["dead_after_ms", "degraded_after_ms", "interval_ms", "suspect_after_ms"]
    DEAD_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    SUSPECT_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    dead_after_ms: int
    degraded_after_ms: int
    interval_ms: int
    suspect_after_ms: int
    def __init__(self, interval_ms: _Optional[int] = ..., degraded_after_ms: _Optional[int] = ..., suspect_after_ms: _Optional[int] = ..., dead_after_ms: _Optional[int] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ["admission_token", "capabilities", "ephemeral_public_key", "heartbeat", "identity_public_key", "max_frame_bytes", "nonce", "versions"]
    ADMISSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    admission_token: str
    capabilities: _capabilities_pb2.CapabilitySet
    ephemeral_public_key: bytes
    heartbeat: HeartbeatParams
    identity_public_key: bytes
    max_frame_bytes: int
    nonce: bytes
    versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, versions: _Optional[_Iterable[str]] = ..., capabilities: _Optional[_Union[_capabilities_pb2.CapabilitySet, _Mapping]] = ..., nonce: _Optional[bytes] = ..., ephemeral_public_key: _Optional[bytes] = ..., identity_public_key: _Optional[bytes] = ..., heartbeat: _Optional[_Union[HeartbeatParams, _Mapping]] = ..., max_frame_bytes: _Optional[int] = ..., admission_token: _Optional[str] = ...) -> None: ...

class HelloReject(_message.Message):
    __slots__ = ["error", "identity_public_key", "initiator_nonce", "supported_versions"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    INITIATOR_NONCE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    error: _errors_pb2.ErrorBody
    identity_public_key: bytes
    initiator_nonce: bytes
    supported_versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, error: _Optional[_Union[_errors_pb2.ErrorBody, _Mapping]] = ..., supported_versions: _Optional[_Iterable[str]] = ..., initiator_nonce: _Optional[bytes] = ..., identity_public_key: _Optional[bytes] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ["capabilities", "ephemeral_public_key", "heartbeat", "identity_public_key", "initiator_nonce", "max_frame_bytes", "nonce", "resumption_lifetime_seconds", "resumption_ticket", "session_id", "shared_capabilities", "version"]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    INITIATOR_NONCE_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    RESUMPTION_LIFETIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RESUMPTION_TICKET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARED_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    capabilities: _capabilities_pb2.CapabilitySet
    ephemeral_public_key: bytes
    heartbeat: HeartbeatParams
    identity_public_key: bytes
    initiator_nonce: bytes
    max_frame_bytes: int
    nonce: bytes
    resumption_lifetime_seconds: int
    resumption_ticket: bytes
    session_id: str
    shared_capabilities: _containers.RepeatedCompositeFieldContainer[_capabilities_pb2.Capability]
    version: str
    def __init__(self, version: _Optional[str] = ..., shared_capabilities: _Optional[_Iterable[_Union[_capabilities_pb2.Capability, _Mapping]]] = ..., initiator_nonce: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., ephemeral_public_key: _Optional[bytes] = ..., identity_public_key: _Optional[bytes] = ..., session_id: _Optional[str] = ..., heartbeat: _Optional[_Union[HeartbeatParams, _Mapping]] = ..., max_frame_bytes: _Optional[int] = ..., capabilities: _Optional[_Union[_capabilities_pb2.CapabilitySet, _Mapping]] = ..., resumption_ticket: _Optional[bytes] = ..., resumption_lifetime_seconds: _Optional[int] = ...) -> None: ...
