from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Capability(_message.Message):
    __slots__ = ["grant", "name", "version"]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    grant: str
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., grant: _Optional[str] = ...) -> None: ...

class CapabilityExchange(_message.Message):
    __slots__ = ["capabilities", "is_reply", "missing_optional", "missing_required", "shared"]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    IS_REPLY_FIELD_NUMBER: _ClassVar[int]
    MISSING_OPTIONAL_FIELD_NUMBER: _ClassVar[int]
    MISSING_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    capabilities: CapabilitySet
    is_reply: bool
    missing_optional: _containers.RepeatedCompositeFieldContainer[Capability]
    missing_required: _containers.RepeatedCompositeFieldContainer[Capability]
    shared: _containers.RepeatedCompositeFieldContainer[Capability]
    def __init__(self, capabilities: _Optional[_Union[CapabilitySet, _Mapping]] = ..., is_reply: bool = ..., shared: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ..., missing_required: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ..., missing_optional: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ...) -> None: ...

class CapabilitySet(_message.Message):
    __slots__ = ["offered", "optional", "required"]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    OPTIONAL_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    offered: _containers.RepeatedCompositeFieldContainer[Capability]
    optional: _containers.RepeatedCompositeFieldContainer[Capability]
    required: _containers.RepeatedCompositeFieldContainer[Capability]
    def __init__(self, offered: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ..., required: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ..., optional: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ...) -> None: ...
