from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Recipient(_message.Message):
    __slots__ = ["agent", "broadcast", "capability", "discovery", "group", "hub"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    HUB_FIELD_NUMBER: _ClassVar[int]
    agent: str
    broadcast: bool
    capability: str
    discovery: bool
    group: str
    hub: bool
    def __init__(self, agent: _Optional[str] = ..., group: _Optional[str] = ..., capability: _Optional[str] = ..., broadcast: bool = ..., discovery: bool = ..., hub: bool = ...) -> None: ...
