from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ENTRY_KIND_AGENT: EntryKind
ENTRY_KIND_TOOL: EntryKind
ENTRY_KIND_UNSPECIFIED: EntryKind
LIFECYCLE_ACTIVE: Lifecycle
LIFECYCLE_RETIRED: Lifecycle
LIFECYCLE_SUSPENDED: Lifecycle
LIFECYCLE_UNSPECIFIED: Lifecycle
MCP_AUTH_MODE_CLIENT_CREDENTIALS: McpAuthMode
MCP_AUTH_MODE_STATIC_SECRET: McpAuthMode
MCP_AUTH_MODE_TOKEN_EXCHANGE: McpAuthMode
MCP_AUTH_MODE_UNSPECIFIED: McpAuthMode

class A2aBinding(_message.Message):
    __slots__ = ["ca_pem", "card", "card_url", "external"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    CARD_URL_FIELD_NUMBER: _ClassVar[int]
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    ca_pem: str
    card: _struct_pb2.Struct
    card_url: str
    external: bool
    def __init__(self, card: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., card_url: _Optional[str] = ..., external: bool = ..., ca_pem: _Optional[str] = ...) -> None: ...

class AgentCard(_message.Message):
    __slots__ = ["a2a", "collaborators", "description", "endpoints", "identity", "labels", "lifecycle", "model", "name", "owner", "policies", "purpose", "skills", "version"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    A2A_FIELD_NUMBER: _ClassVar[int]
    COLLABORATORS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    a2a: A2aBinding
    collaborators: DiscoveryScope
    description: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    identity: str
    labels: _containers.ScalarMap[str, str]
    lifecycle: Lifecycle
    model: ModelRef
    name: str
    owner: str
    policies: _containers.RepeatedCompositeFieldContainer[Policy]
    purpose: str
    skills: _containers.RepeatedCompositeFieldContainer[Skill]
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., purpose: _Optional[str] = ..., description: _Optional[str] = ..., policies: _Optional[_Iterable[_Union[Policy, _Mapping]]] = ..., skills: _Optional[_Iterable[_Union[Skill, _Mapping]]] = ..., collaborators: _Optional[_Union[DiscoveryScope, _Mapping]] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., identity: _Optional[str] = ..., owner: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., lifecycle: _Optional[_Union[Lifecycle, str]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ..., a2a: _Optional[_Union[A2aBinding, _Mapping]] = ...) -> None: ...

class CharacteristicsScope(_message.Message):
    __slots__ = ["kinds", "labels", "policies", "skill_ids", "tags", "text", "version_constraint"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KINDS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    SKILL_IDS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VERSION_CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[EntryKind]
    labels: _containers.ScalarMap[str, str]
    policies: _containers.RepeatedScalarFieldContainer[str]
    skill_ids: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    text: str
    version_constraint: str
    def __init__(self, text: _Optional[str] = ..., skill_ids: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., policies: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., version_constraint: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[EntryKind, str]]] = ...) -> None: ...

class DiscoveryScope(_message.Message):
    __slots__ = ["characteristics", "visibility"]
    CHARACTERISTICS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    characteristics: CharacteristicsScope
    visibility: VisibilityScope
    def __init__(self, visibility: _Optional[_Union[VisibilityScope, _Mapping]] = ..., characteristics: _Optional[_Union[CharacteristicsScope, _Mapping]] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ["address", "admin_address", "instance_id", "mcp_url"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ADMIN_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    MCP_URL_FIELD_NUMBER: _ClassVar[int]
    address: str
    admin_address: str
    instance_id: str
    mcp_url: str
    def __init__(self, address: _Optional[str] = ..., admin_address: _Optional[str] = ..., instance_id: _Optional[str] = ..., mcp_url: _Optional[str] = ...) -> None: ...

class ExternalMcpServer(_message.Message):
    __slots__ = ["auth", "ca_pem", "external", "protocol_version", "url"]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    auth: McpAuth
    ca_pem: str
    external: bool
    protocol_version: str
    url: str
    def __init__(self, url: _Optional[str] = ..., external: bool = ..., auth: _Optional[_Union[McpAuth, _Mapping]] = ..., ca_pem: _Optional[str] = ..., protocol_version: _Optional[str] = ...) -> None: ...

class McpAuth(_message.Message):
    __slots__ = ["client_id", "mode", "resource", "scopes", "secret", "token_url"]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    TOKEN_URL_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    mode: McpAuthMode
    resource: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    secret: str
    token_url: str
    def __init__(self, mode: _Optional[_Union[McpAuthMode, str]] = ..., token_url: _Optional[str] = ..., client_id: _Optional[str] = ..., secret: _Optional[str] = ..., resource: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ["model", "provider"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    model: str
    provider: str
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class NamePattern(_message.Message):
    __slots__ = ["glob", "regex"]
    GLOB_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    glob: str
    regex: str
    def __init__(self, glob: _Optional[str] = ..., regex: _Optional[str] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ["authority", "description", "id"]
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    authority: str
    description: str
    id: str
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., authority: _Optional[str] = ...) -> None: ...

class RegistryEntry(_message.Message):
    __slots__ = ["agent", "registered_at", "revision", "tool", "updated_at"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    agent: AgentCard
    registered_at: _timestamp_pb2.Timestamp
    revision: int
    tool: ToolCard
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, agent: _Optional[_Union[AgentCard, _Mapping]] = ..., tool: _Optional[_Union[ToolCard, _Mapping]] = ..., revision: _Optional[int] = ..., registered_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Skill(_message.Message):
    __slots__ = ["description", "examples", "id", "input_schema", "name", "output_schema", "tags"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    description: str
    examples: _containers.RepeatedCompositeFieldContainer[SkillExample]
    id: str
    input_schema: _struct_pb2.Struct
    name: str
    output_schema: _struct_pb2.Struct
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., examples: _Optional[_Iterable[_Union[SkillExample, _Mapping]]] = ...) -> None: ...

class SkillExample(_message.Message):
    __slots__ = ["input", "text", "title"]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    input: _struct_pb2.Struct
    text: str
    title: str
    def __init__(self, title: _Optional[str] = ..., text: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ToolCard(_message.Message):
    __slots__ = ["description", "endpoints", "identity", "labels", "lifecycle", "mcp", "name", "owner", "policies", "purpose", "tools", "version"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    MCP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    description: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    identity: str
    labels: _containers.ScalarMap[str, str]
    lifecycle: Lifecycle
    mcp: ExternalMcpServer
    name: str
    owner: str
    policies: _containers.RepeatedCompositeFieldContainer[Policy]
    purpose: str
    tools: _containers.RepeatedCompositeFieldContainer[ToolDefinition]
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., purpose: _Optional[str] = ..., description: _Optional[str] = ..., policies: _Optional[_Iterable[_Union[Policy, _Mapping]]] = ..., tools: _Optional[_Iterable[_Union[ToolDefinition, _Mapping]]] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., identity: _Optional[str] = ..., owner: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., lifecycle: _Optional[_Union[Lifecycle, str]] = ..., mcp: _Optional[_Union[ExternalMcpServer, _Mapping]] = ...) -> None: ...

class ToolDefinition(_message.Message):
    __slots__ = ["arguments_schema", "description", "examples", "idempotent", "name", "result_schema", "tags"]
    ARGUMENTS_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    arguments_schema: _struct_pb2.Struct
    description: str
    examples: _containers.RepeatedCompositeFieldContainer[SkillExample]
    idempotent: bool
    name: str
    result_schema: _struct_pb2.Struct
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., arguments_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ..., idempotent: bool = ..., examples: _Optional[_Iterable[_Union[SkillExample, _Mapping]]] = ...) -> None: ...

class VisibilityScope(_message.Message):
    __slots__ = ["names", "namespaces", "patterns"]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    patterns: _containers.RepeatedCompositeFieldContainer[NamePattern]
    def __init__(self, namespaces: _Optional[_Iterable[str]] = ..., names: _Optional[_Iterable[str]] = ..., patterns: _Optional[_Iterable[_Union[NamePattern, _Mapping]]] = ...) -> None: ...

class Lifecycle(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class McpAuthMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
