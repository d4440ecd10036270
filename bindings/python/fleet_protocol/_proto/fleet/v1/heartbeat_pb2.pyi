from . import registry_pb2 as _registry_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
PEER_STATE_ALIVE: PeerState
PEER_STATE_DEAD: PeerState
PEER_STATE_DEGRADED: PeerState
PEER_STATE_SUSPECT: PeerState
PEER_STATE_UNSPECIFIED: PeerState

class Heartbeat(_message.Message):
    __slots__ = ["health", "queue_depth", "sequence"]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    health: _registry_pb2.HealthStatus
    queue_depth: int
    sequence: int
    def __init__(self, sequence: _Optional[int] = ..., queue_depth: _Optional[int] = ..., health: _Optional[_Union[_registry_pb2.HealthStatus, str]] = ...) -> None: ...

class PeerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
