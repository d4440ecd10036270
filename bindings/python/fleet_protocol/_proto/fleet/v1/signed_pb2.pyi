from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
SIGNATURE_SCHEME_ED25519: SignatureScheme
SIGNATURE_SCHEME_HMAC_SHA256: SignatureScheme
SIGNATURE_SCHEME_UNSPECIFIED: SignatureScheme

class EnvelopeBatch(_message.Message):
    __slots__ = ["envelopes"]
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    envelopes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, envelopes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Packet(_message.Message):
    __slots__ = ["session", "signed"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    session: SessionEnvelope
    signed: SignedEnvelope
    def __init__(self, signed: _Optional[_Union[SignedEnvelope, _Mapping]] = ..., session: _Optional[_Union[SessionEnvelope, _Mapping]] = ...) -> None: ...

class SessionEnvelope(_message.Message):
    __slots__ = ["finished", "mac", "payload", "payload_type", "sequence", "session_id"]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    finished: bytes
    mac: bytes
    payload: bytes
    payload_type: str
    sequence: int
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., payload_type: _Optional[str] = ..., payload: _Optional[bytes] = ..., mac: _Optional[bytes] = ..., finished: _Optional[bytes] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ["key_id", "scheme", "sig"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    SIG_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    scheme: SignatureScheme
    sig: bytes
    def __init__(self, scheme: _Optional[_Union[SignatureScheme, str]] = ..., key_id: _Optional[str] = ..., sig: _Optional[bytes] = ...) -> None: ...

class SignedEnvelope(_message.Message):
    __slots__ = ["payload", "payload_type", "signature"]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    payload_type: str
    signature: Signature
    def __init__(self, payload_type: _Optional[str] = ..., payload: _Optional[bytes] = ..., signature: _Optional[_Union[Signature, _Mapping]] = ...) -> None: ...

class SignatureScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
