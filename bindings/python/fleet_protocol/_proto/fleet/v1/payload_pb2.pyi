from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ApplicationPayload(_message.Message):
    __slots__ = ["data", "json", "media_type"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    json: str
    media_type: str
    def __init__(self, media_type: _Optional[str] = ..., json: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...
