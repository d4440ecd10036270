from . import capabilities_pb2 as _capabilities_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

AGENT_ROLE_COORDINATOR: AgentRole
AGENT_ROLE_GATEWAY: AgentRole
AGENT_ROLE_KEEPER: AgentRole
AGENT_ROLE_MONITOR: AgentRole
AGENT_ROLE_UNSPECIFIED: AgentRole
AGENT_ROLE_WORKER: AgentRole
DESCRIPTOR: _descriptor.FileDescriptor
HEALTH_STATUS_DEGRADED: HealthStatus
HEALTH_STATUS_HEALTHY: HealthStatus
HEALTH_STATUS_UNHEALTHY: HealthStatus
HEALTH_STATUS_UNKNOWN: HealthStatus
HEALTH_STATUS_UNSPECIFIED: HealthStatus

class AgentRecord(_message.Message):
    __slots__ = ["agent_id", "capabilities", "endpoints", "groups", "key_id", "public_key", "role", "versions"]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    capabilities: _containers.RepeatedCompositeFieldContainer[_capabilities_pb2.Capability]
    endpoints: _containers.RepeatedScalarFieldContainer[str]
    groups: _containers.RepeatedScalarFieldContainer[str]
    key_id: str
    public_key: bytes
    role: AgentRole
    versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., role: _Optional[_Union[AgentRole, str]] = ..., capabilities: _Optional[_Iterable[_Union[_capabilities_pb2.Capability, _Mapping]]] = ..., endpoints: _Optional[_Iterable[str]] = ..., versions: _Optional[_Iterable[str]] = ..., groups: _Optional[_Iterable[str]] = ...) -> None: ...

class HealthRecord(_message.Message):
    __slots__ = ["agent_id", "observed_at", "reason", "status"]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    observed_at: _timestamp_pb2.Timestamp
    reason: str
    status: HealthStatus
    def __init__(self, agent_id: _Optional[str] = ..., status: _Optional[_Union[HealthStatus, str]] = ..., observed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class Hlc(_message.Message):
    __slots__ = ["logical", "node", "wall_ms"]
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    WALL_MS_FIELD_NUMBER: _ClassVar[int]
    logical: int
    node: str
    wall_ms: int
    def __init__(self, wall_ms: _Optional[int] = ..., logical: _Optional[int] = ..., node: _Optional[str] = ...) -> None: ...

class RegistryDelta(_message.Message):
    __slots__ = ["entries", "node"]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[RegistryEntry]
    node: str
    def __init__(self, node: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[RegistryEntry, _Mapping]]] = ...) -> None: ...

class RegistryDigest(_message.Message):
    __slots__ = ["bucket_hashes", "entry_count", "is_reply", "node", "root_hash"]
    BUCKET_HASHES_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_REPLY_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    bucket_hashes: _containers.RepeatedScalarFieldContainer[bytes]
    entry_count: int
    is_reply: bool
    node: str
    root_hash: bytes
    def __init__(self, node: _Optional[str] = ..., root_hash: _Optional[bytes] = ..., entry_count: _Optional[int] = ..., bucket_hashes: _Optional[_Iterable[bytes]] = ..., is_reply: bool = ...) -> None: ...

class RegistryEntry(_message.Message):
    __slots__ = ["agent", "causal", "health", "key", "service", "tombstone", "version"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CAUSAL_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    agent: AgentRecord
    causal: _containers.RepeatedCompositeFieldContainer[VersionCounter]
    health: HealthRecord
    key: str
    service: ServiceRecord
    tombstone: bool
    version: Hlc
    def __init__(self, key: _Optional[str] = ..., version: _Optional[_Union[Hlc, _Mapping]] = ..., tombstone: bool = ..., agent: _Optional[_Union[AgentRecord, _Mapping]] = ..., service: _Optional[_Union[ServiceRecord, _Mapping]] = ..., health: _Optional[_Union[HealthRecord, _Mapping]] = ..., causal: _Optional[_Iterable[_Union[VersionCounter, _Mapping]]] = ...) -> None: ...

class RegistryQuery(_message.Message):
    __slots__ = ["after_agent_id", "agent_id", "capability", "online_only", "role"]
    AFTER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    ONLINE_ONLY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    after_agent_id: str
    agent_id: str
    capability: str
    online_only: bool
    role: AgentRole
    def __init__(self, capability: _Optional[str] = ..., role: _Optional[_Union[AgentRole, str]] = ..., agent_id: _Optional[str] = ..., online_only: bool = ..., after_agent_id: _Optional[str] = ...) -> None: ...

class RegistryQueryResult(_message.Message):
    __slots__ = ["agents", "health", "truncated"]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentRecord]
    health: _containers.RepeatedCompositeFieldContainer[HealthRecord]
    truncated: bool
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentRecord, _Mapping]]] = ..., health: _Optional[_Iterable[_Union[HealthRecord, _Mapping]]] = ..., truncated: bool = ...) -> None: ...

class RegistrySnapshot(_message.Message):
    __slots__ = ["buckets", "entries", "node"]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedScalarFieldContainer[int]
    entries: _containers.RepeatedCompositeFieldContainer[RegistryEntry]
    node: str
    def __init__(self, node: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[RegistryEntry, _Mapping]]] = ..., buckets: _Optional[_Iterable[int]] = ...) -> None: ...

class ServiceRecord(_message.Message):
    __slots__ = ["agent_id", "capability", "description", "endpoint", "service_id"]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    capability: _capabilities_pb2.Capability
    description: str
    endpoint: str
    service_id: str
    def __init__(self, service_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., capability: _Optional[_Union[_capabilities_pb2.Capability, _Mapping]] = ..., endpoint: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class VersionCounter(_message.Message):
    __slots__ = ["count", "node"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    count: int
    node: str
    def __init__(self, node: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class AgentRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class HealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
