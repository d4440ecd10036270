from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ERROR_CODE_CANCELLED: ErrorCode
ERROR_CODE_CAPABILITY_NEGOTIATION_FAILED: ErrorCode
ERROR_CODE_CAPABILITY_NOT_SUPPORTED: ErrorCode
ERROR_CODE_CAPABILITY_REQUIRED: ErrorCode
ERROR_CODE_DELIVERY_BUSY: ErrorCode
ERROR_CODE_DELIVERY_DUPLICATE: ErrorCode
ERROR_CODE_DELIVERY_EXPIRED: ErrorCode
ERROR_CODE_DELIVERY_HOP_LIMIT: ErrorCode
ERROR_CODE_DELIVERY_IDLE_TIMEOUT: ErrorCode
ERROR_CODE_DELIVERY_RATE_LIMITED: ErrorCode
ERROR_CODE_DELIVERY_RECIPIENT_UNAVAILABLE: ErrorCode
ERROR_CODE_DELIVERY_STORE_FAILED: ErrorCode
ERROR_CODE_DELIVERY_UNSUPPORTED_VERSION: ErrorCode
ERROR_CODE_DISCOVERY_CAPABILITY_NOT_FOUND: ErrorCode
ERROR_CODE_DISCOVERY_FAILED: ErrorCode
ERROR_CODE_DISCOVERY_HOP_LIMIT: ErrorCode
ERROR_CODE_DISCOVERY_NO_AGENTS: ErrorCode
ERROR_CODE_HANDSHAKE_AUTH_FAILED: ErrorCode
ERROR_CODE_HANDSHAKE_REJECTED: ErrorCode
ERROR_CODE_HANDSHAKE_REQUIRED: ErrorCode
ERROR_CODE_HANDSHAKE_TIMEOUT: ErrorCode
ERROR_CODE_HANDSHAKE_VERSION_MISMATCH: ErrorCode
ERROR_CODE_HEARTBEAT_DEAD: ErrorCode
ERROR_CODE_HEARTBEAT_DEGRADED: ErrorCode
ERROR_CODE_HEARTBEAT_MISSED: ErrorCode
ERROR_CODE_INTERNAL_ERROR: ErrorCode
ERROR_CODE_REGISTRY_AGENT_NOT_FOUND: ErrorCode
ERROR_CODE_REGISTRY_CONFLICT: ErrorCode
ERROR_CODE_REGISTRY_SYNC_FAILED: ErrorCode
ERROR_CODE_SECURITY_CLOCK_SKEW: ErrorCode
ERROR_CODE_SECURITY_DECRYPTION_FAILED: ErrorCode
ERROR_CODE_SECURITY_KEY_MISMATCH: ErrorCode
ERROR_CODE_SECURITY_KEY_REVOKED: ErrorCode
ERROR_CODE_SECURITY_MALFORMED_KEY: ErrorCode
ERROR_CODE_SECURITY_REPLAY: ErrorCode
ERROR_CODE_SECURITY_SEQUENCE_GAP: ErrorCode
ERROR_CODE_SECURITY_SIGNATURE_INVALID: ErrorCode
ERROR_CODE_SECURITY_TOKEN_EXPIRED: ErrorCode
ERROR_CODE_SECURITY_TOKEN_USED: ErrorCode
ERROR_CODE_SECURITY_UNAUTHORIZED: ErrorCode
ERROR_CODE_UNKNOWN_ERROR: ErrorCode
ERROR_CODE_UNSPECIFIED: ErrorCode
ERROR_CODE_VALIDATION_MISSING_FIELD: ErrorCode
ERROR_CODE_VALIDATION_OUT_OF_RANGE: ErrorCode
ERROR_CODE_VALIDATION_UNKNOWN_ENUM: ErrorCode
ERROR_CODE_VALIDATION_WRONG_TYPE: ErrorCode
ERROR_CODE_WIRE_BAD_MAGIC: ErrorCode
ERROR_CODE_WIRE_FRAME_TOO_LARGE: ErrorCode
ERROR_CODE_WIRE_INVALID_UTF8: ErrorCode
ERROR_CODE_WIRE_MALFORMED: ErrorCode
ERROR_CODE_WIRE_TRUNCATED: ErrorCode
ERROR_CODE_WIRE_UNSUPPORTED_PAYLOAD_TYPE: ErrorCode

class ErrorBody(_message.Message):
    __slots__ = ["code", "details", "message", "message_id", "pointer", "recovery"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    POINTER_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    details: _containers.RepeatedCompositeFieldContainer[ErrorDetail]
    message: str
    message_id: str
    pointer: str
    recovery: RecoveryHint
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., pointer: _Optional[str] = ..., details: _Optional[_Iterable[_Union[ErrorDetail, _Mapping]]] = ..., recovery: _Optional[_Union[RecoveryHint, _Mapping]] = ..., message_id: _Optional[str] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ["key", "value"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class RecoveryHint(_message.Message):
    __slots__ = ["action", "delay_ms", "max_attempts"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    action: str
    delay_ms: int
    max_attempts: int
    def __init__(self, action: _Optional[str] = ..., delay_ms: _Optional[int] = ..., max_attempts: _Optional[int] = ...) -> None: ...

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
