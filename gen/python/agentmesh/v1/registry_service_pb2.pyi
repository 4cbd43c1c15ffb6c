from agentmesh.v1 import card_pb2 as _card_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CHANGE_TYPE_ADDED: ChangeType
CHANGE_TYPE_PROGRESS: ChangeType
CHANGE_TYPE_REMOVED: ChangeType
CHANGE_TYPE_UNSPECIFIED: ChangeType
CHANGE_TYPE_UPDATED: ChangeType
DESCRIPTOR: _descriptor.FileDescriptor

class DeregisterRequest(_message.Message):
    __slots__ = ["lease_id"]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class DeregisterResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DiscoverRequest(_message.Message):
    __slots__ = ["max_results", "scope"]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    max_results: int
    scope: _card_pb2.DiscoveryScope
    def __init__(self, scope: _Optional[_Union[_card_pb2.DiscoveryScope, _Mapping]] = ..., max_results: _Optional[int] = ...) -> None: ...

class DiscoverResponse(_message.Message):
    __slots__ = ["matches", "revision"]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[DiscoveryMatch]
    revision: int
    def __init__(self, matches: _Optional[_Iterable[_Union[DiscoveryMatch, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...

class DiscoveryMatch(_message.Message):
    __slots__ = ["entry", "reasons", "score"]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    entry: _card_pb2.RegistryEntry
    reasons: _containers.RepeatedScalarFieldContainer[str]
    score: float
    def __init__(self, entry: _Optional[_Union[_card_pb2.RegistryEntry, _Mapping]] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ["name", "version"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ["card", "versions"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.AgentCard
    versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, card: _Optional[_Union[_card_pb2.AgentCard, _Mapping]] = ..., versions: _Optional[_Iterable[str]] = ...) -> None: ...

class GetToolServiceRequest(_message.Message):
    __slots__ = ["name", "version"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GetToolServiceResponse(_message.Message):
    __slots__ = ["card", "versions"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.ToolCard
    versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, card: _Optional[_Union[_card_pb2.ToolCard, _Mapping]] = ..., versions: _Optional[_Iterable[str]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["lease_id"]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ["expires_at"]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ["include_inactive", "namespace", "page_size", "page_token"]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    namespace: str
    page_size: int
    page_token: str
    def __init__(self, namespace: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_inactive: bool = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ["agents", "next_page_token"]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[_card_pb2.AgentCard]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[_card_pb2.AgentCard, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListToolServicesRequest(_message.Message):
    __slots__ = ["include_inactive", "namespace", "page_size", "page_token"]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    namespace: str
    page_size: int
    page_token: str
    def __init__(self, namespace: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_inactive: bool = ...) -> None: ...

class ListToolServicesResponse(_message.Message):
    __slots__ = ["next_page_token", "tools"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    tools: _containers.RepeatedCompositeFieldContainer[_card_pb2.ToolCard]
    def __init__(self, tools: _Optional[_Iterable[_Union[_card_pb2.ToolCard, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RegisterAgentRequest(_message.Message):
    __slots__ = ["card", "endpoint", "lease_ttl"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.AgentCard
    endpoint: _card_pb2.Endpoint
    lease_ttl: _duration_pb2.Duration
    def __init__(self, card: _Optional[_Union[_card_pb2.AgentCard, _Mapping]] = ..., endpoint: _Optional[_Union[_card_pb2.Endpoint, _Mapping]] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RegisterAgentResponse(_message.Message):
    __slots__ = ["expires_at", "lease_id", "lease_ttl", "revision"]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    lease_id: str
    lease_ttl: _duration_pb2.Duration
    revision: int
    def __init__(self, lease_id: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class RegisterExternalAgentRequest(_message.Message):
    __slots__ = ["card"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.AgentCard
    def __init__(self, card: _Optional[_Union[_card_pb2.AgentCard, _Mapping]] = ...) -> None: ...

class RegisterExternalAgentResponse(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class RegisterExternalToolRequest(_message.Message):
    __slots__ = ["card"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.ToolCard
    def __init__(self, card: _Optional[_Union[_card_pb2.ToolCard, _Mapping]] = ...) -> None: ...

class RegisterExternalToolResponse(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class RegisterToolRequest(_message.Message):
    __slots__ = ["card", "endpoint", "lease_ttl"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.ToolCard
    endpoint: _card_pb2.Endpoint
    lease_ttl: _duration_pb2.Duration
    def __init__(self, card: _Optional[_Union[_card_pb2.ToolCard, _Mapping]] = ..., endpoint: _Optional[_Union[_card_pb2.Endpoint, _Mapping]] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RegisterToolResponse(_message.Message):
    __slots__ = ["expires_at", "lease_id", "lease_ttl", "revision"]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    lease_id: str
    lease_ttl: _duration_pb2.Duration
    revision: int
    def __init__(self, lease_id: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class SetLifecycleRequest(_message.Message):
    __slots__ = ["lifecycle", "name", "reason", "version"]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    lifecycle: _card_pb2.Lifecycle
    name: str
    reason: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., lifecycle: _Optional[_Union[_card_pb2.Lifecycle, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class SetLifecycleResponse(_message.Message):
    __slots__ = ["entry"]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: _card_pb2.RegistryEntry
    def __init__(self, entry: _Optional[_Union[_card_pb2.RegistryEntry, _Mapping]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ["from_revision", "kinds", "progress_interval"]
    FROM_REVISION_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    from_revision: int
    kinds: _containers.RepeatedScalarFieldContainer[_card_pb2.EntryKind]
    progress_interval: _duration_pb2.Duration
    def __init__(self, from_revision: _Optional[int] = ..., kinds: _Optional[_Iterable[_Union[_card_pb2.EntryKind, str]]] = ..., progress_interval: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ["change", "entry", "revision"]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    change: ChangeType
    entry: _card_pb2.RegistryEntry
    revision: int
    def __init__(self, change: _Optional[_Union[ChangeType, str]] = ..., entry: _Optional[_Union[_card_pb2.RegistryEntry, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ChangeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
