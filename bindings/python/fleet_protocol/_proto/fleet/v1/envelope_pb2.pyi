from . import address_pb2 as _address_pb2
from . import bottle_pb2 as _bottle_pb2
from . import capabilities_pb2 as _capabilities_pb2
from . import discovery_pb2 as _discovery_pb2
from . import errors_pb2 as _errors_pb2
from . import handshake_pb2 as _handshake_pb2
from . import heartbeat_pb2 as _heartbeat_pb2
from . import payload_pb2 as _payload_pb2
from . import receipt_pb2 as _receipt_pb2
from . import registry_pb2 as _registry_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ENCRYPTION_ALGORITHM_AES_256_GCM: EncryptionAlgorithm
ENCRYPTION_ALGORITHM_CHACHA20_POLY1305: EncryptionAlgorithm
ENCRYPTION_ALGORITHM_UNSPECIFIED: EncryptionAlgorithm
MESSAGE_TYPE_COMMAND: MessageType
MESSAGE_TYPE_ERROR: MessageType
MESSAGE_TYPE_EVENT: MessageType
MESSAGE_TYPE_QUERY: MessageType
MESSAGE_TYPE_REQUEST: MessageType
MESSAGE_TYPE_RESPONSE: MessageType
MESSAGE_TYPE_STATUS: MessageType
MESSAGE_TYPE_UNSPECIFIED: MessageType
PRIORITY_CRITICAL: Priority
PRIORITY_HIGH: Priority
PRIORITY_LOW: Priority
PRIORITY_NORMAL: Priority
PRIORITY_UNSPECIFIED: Priority

class Body(_message.Message):
    __slots__ = ["application", "bottle", "bottle_letter", "bottle_receipt", "capability_exchange", "discovery_beacon", "error", "handshake_confirm", "heartbeat", "hello", "hello_reject", "key_rotation", "receipt", "registry_delta", "registry_digest", "registry_query", "registry_query_result", "registry_snapshot", "welcome"]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    BOTTLE_FIELD_NUMBER: _ClassVar[int]
    BOTTLE_LETTER_FIELD_NUMBER: _ClassVar[int]
    BOTTLE_RECEIPT_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_BEACON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HANDSHAKE_CONFIRM_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HELLO_REJECT_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATION_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_DELTA_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_QUERY_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_QUERY_RESULT_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    application: _payload_pb2.ApplicationPayload
    bottle: _bottle_pb2.Bottle
    bottle_letter: _bottle_pb2.BottleLetter
    bottle_receipt: _bottle_pb2.BottleReceipt
    capability_exchange: _capabilities_pb2.CapabilityExchange
    discovery_beacon: _discovery_pb2.DiscoveryBeacon
    error: _errors_pb2.ErrorBody
    handshake_confirm: _handshake_pb2.HandshakeConfirm
    heartbeat: _heartbeat_pb2.Heartbeat
    hello: _handshake_pb2.Hello
    hello_reject: _handshake_pb2.HelloReject
    key_rotation: KeyRotation
    receipt: _receipt_pb2.Receipt
    registry_delta: _registry_pb2.RegistryDelta
    registry_digest: _registry_pb2.RegistryDigest
    registry_query: _registry_pb2.RegistryQuery
    registry_query_result: _registry_pb2.RegistryQueryResult
    registry_snapshot: _registry_pb2.RegistrySnapshot
    welcome: _handshake_pb2.Welcome
    def __init__(self, application: _Optional[_Union[_payload_pb2.ApplicationPayload, _Mapping]] = ..., hello: _Optional[_Union[_handshake_pb2.Hello, _Mapping]] = ..., welcome: _Optional[_Union[_handshake_pb2.Welcome, _Mapping]] = ..., hello_reject: _Optional[_Union[_handshake_pb2.HelloReject, _Mapping]] = ..., handshake_confirm: _Optional[_Union[_handshake_pb2.HandshakeConfirm, _Mapping]] = ..., heartbeat: _Optional[_Union[_heartbeat_pb2.Heartbeat, _Mapping]] = ..., discovery_beacon: _Optional[_Union[_discovery_pb2.DiscoveryBeacon, _Mapping]] = ..., capability_exchange: _Optional[_Union[_capabilities_pb2.CapabilityExchange, _Mapping]] = ..., registry_digest: _Optional[_Union[_registry_pb2.RegistryDigest, _Mapping]] = ..., registry_snapshot: _Optional[_Union[_registry_pb2.RegistrySnapshot, _Mapping]] = ..., registry_delta: _Optional[_Union[_registry_pb2.RegistryDelta, _Mapping]] = ..., registry_query: _Optional[_Union[_registry_pb2.RegistryQuery, _Mapping]] = ..., registry_query_result: _Optional[_Union[_registry_pb2.RegistryQueryResult, _Mapping]] = ..., bottle: _Optional[_Union[_bottle_pb2.Bottle, _Mapping]] = ..., bottle_receipt: _Optional[_Union[_bottle_pb2.BottleReceipt, _Mapping]] = ..., receipt: _Optional[_Union[_receipt_pb2.Receipt, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ErrorBody, _Mapping]] = ..., key_rotation: _Optional[_Union[KeyRotation, _Mapping]] = ..., bottle_letter: _Optional[_Union[_bottle_pb2.BottleLetter, _Mapping]] = ...) -> None: ...

class EncryptionHeader(_message.Message):
    __slots__ = ["algorithm", "nonce", "session_id"]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    algorithm: EncryptionAlgorithm
    nonce: bytes
    session_id: str
    def __init__(self, algorithm: _Optional[_Union[EncryptionAlgorithm, str]] = ..., session_id: _Optional[str] = ..., nonce: _Optional[bytes] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ["body", "body_ciphertext", "capabilities_needed", "correlation_id", "created_at", "id", "in_reply_to", "priority", "protocol_version", "recipient", "requires_ack", "security", "sender", "thread_id", "ttl_seconds", "type"]
    BODY_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_NEEDED_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_ACK_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    body: Body
    body_ciphertext: bytes
    capabilities_needed: _containers.RepeatedScalarFieldContainer[str]
    correlation_id: str
    created_at: _timestamp_pb2.Timestamp
    id: str
    in_reply_to: str
    priority: Priority
    protocol_version: str
    recipient: _address_pb2.Recipient
    requires_ack: bool
    security: Security
    sender: str
    thread_id: str
    ttl_seconds: int
    type: MessageType
    def __init__(self, id: _Optional[str] = ..., sender: _Optional[str] = ..., recipient: _Optional[_Union[_address_pb2.Recipient, _Mapping]] = ..., type: _Optional[_Union[MessageType, str]] = ..., priority: _Optional[_Union[Priority, str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ttl_seconds: _Optional[int] = ..., in_reply_to: _Optional[str] = ..., correlation_id: _Optional[str] = ..., thread_id: _Optional[str] = ..., requires_ack: bool = ..., capabilities_needed: _Optional[_Iterable[str]] = ..., protocol_version: _Optional[str] = ..., security: _Optional[_Union[Security, _Mapping]] = ..., body: _Optional[_Union[Body, _Mapping]] = ..., body_ciphertext: _Optional[bytes] = ...) -> None: ...

class KeyRotation(_message.Message):
    __slots__ = ["agent", "effective_at", "new_key_id", "new_key_signature", "new_public_key", "old_key_id"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    NEW_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_KEY_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    NEW_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    OLD_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    agent: str
    effective_at: _timestamp_pb2.Timestamp
    new_key_id: str
    new_key_signature: bytes
    new_public_key: bytes
    old_key_id: str
    def __init__(self, agent: _Optional[str] = ..., old_key_id: _Optional[str] = ..., new_public_key: _Optional[bytes] = ..., new_key_id: _Optional[str] = ..., effective_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., new_key_signature: _Optional[bytes] = ...) -> None: ...

class Security(_message.Message):
    __slots__ = ["encryption", "key_id", "nonce"]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    encryption: EncryptionHeader
    key_id: str
    nonce: bytes
    def __init__(self, key_id: _Optional[str] = ..., nonce: _Optional[bytes] = ..., encryption: _Optional[_Union[EncryptionHeader, _Mapping]] = ...) -> None: ...

class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EncryptionAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
