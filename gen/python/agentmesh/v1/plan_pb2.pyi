from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
PLANNER_KIND_LLM: PlannerKind
PLANNER_KIND_PLAYBOOK: PlannerKind
PLANNER_KIND_UNSPECIFIED: PlannerKind
STEP_STATE_CANCELED: StepState
STEP_STATE_FAILED: StepState
STEP_STATE_PENDING: StepState
STEP_STATE_RUNNING: StepState
STEP_STATE_SKIPPED: StepState
STEP_STATE_SUCCEEDED: StepState
STEP_STATE_UNSPECIFIED: StepState
STEP_STATE_WAITING_INPUT: StepState

class AcceptanceCriteria(_message.Message):
    __slots__ = ["cel", "output_schema"]
    CEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    cel: _containers.RepeatedScalarFieldContainer[str]
    output_schema: _struct_pb2.Struct
    def __init__(self, output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cel: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentTarget(_message.Message):
    __slots__ = ["agent", "skill_id"]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    agent: str
    skill_id: str
    def __init__(self, agent: _Optional[str] = ..., skill_id: _Optional[str] = ...) -> None: ...

class HumanTarget(_message.Message):
    __slots__ = ["allow_self_approval", "answer_within", "approver_roles", "approver_scopes", "choices", "input_schema", "prompt", "required_approvals"]
    ALLOW_SELF_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    ANSWER_WITHIN_FIELD_NUMBER: _ClassVar[int]
    APPROVER_ROLES_FIELD_NUMBER: _ClassVar[int]
    APPROVER_SCOPES_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    allow_self_approval: bool
    answer_within: _duration_pb2.Duration
    approver_roles: _containers.RepeatedScalarFieldContainer[str]
    approver_scopes: _containers.RepeatedScalarFieldContainer[str]
    choices: _containers.RepeatedScalarFieldContainer[str]
    input_schema: _struct_pb2.Struct
    prompt: str
    required_approvals: int
    def __init__(self, prompt: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., choices: _Optional[_Iterable[str]] = ..., approver_roles: _Optional[_Iterable[str]] = ..., approver_scopes: _Optional[_Iterable[str]] = ..., required_approvals: _Optional[int] = ..., allow_self_approval: bool = ..., answer_within: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class LlmTarget(_message.Message):
    __slots__ = ["model_alias", "output_schema", "prompt", "system_prompt"]
    MODEL_ALIAS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    model_alias: str
    output_schema: _struct_pb2.Struct
    prompt: str
    system_prompt: str
    def __init__(self, model_alias: _Optional[str] = ..., system_prompt: _Optional[str] = ..., prompt: _Optional[str] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PlanStep(_message.Message):
    __slots__ = ["acceptance", "agent", "arguments", "depends_on", "description", "human", "id", "llm", "retry", "run_if", "timeout", "tool"]
    ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HUMAN_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LLM_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    RUN_IF_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    acceptance: AcceptanceCriteria
    agent: AgentTarget
    arguments: _struct_pb2.Struct
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    description: str
    human: HumanTarget
    id: str
    llm: LlmTarget
    retry: RetryPolicy
    run_if: str
    timeout: _duration_pb2.Duration
    tool: ToolTarget
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., tool: _Optional[_Union[ToolTarget, _Mapping]] = ..., agent: _Optional[_Union[AgentTarget, _Mapping]] = ..., llm: _Optional[_Union[LlmTarget, _Mapping]] = ..., human: _Optional[_Union[HumanTarget, _Mapping]] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., depends_on: _Optional[_Iterable[str]] = ..., run_if: _Optional[str] = ..., acceptance: _Optional[_Union[AcceptanceCriteria, _Mapping]] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ["initial_backoff", "max_attempts", "max_backoff"]
    INITIAL_BACKOFF_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_FIELD_NUMBER: _ClassVar[int]
    initial_backoff: _duration_pb2.Duration
    max_attempts: int
    max_backoff: _duration_pb2.Duration
    def __init__(self, max_attempts: _Optional[int] = ..., initial_backoff: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_backoff: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TaskPlan(_message.Message):
    __slots__ = ["created_at", "goal", "model", "plan_id", "planner", "playbook_id", "result_step_id", "revision", "steps", "task_id"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PLANNER_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYBOOK_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_STEP_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    goal: str
    model: str
    plan_id: str
    planner: PlannerKind
    playbook_id: str
    result_step_id: str
    revision: int
    steps: _containers.RepeatedCompositeFieldContainer[PlanStep]
    task_id: str
    def __init__(self, plan_id: _Optional[str] = ..., task_id: _Optional[str] = ..., revision: _Optional[int] = ..., goal: _Optional[str] = ..., planner: _Optional[_Union[PlannerKind, str]] = ..., playbook_id: _Optional[str] = ..., model: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[PlanStep, _Mapping]]] = ..., result_step_id: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ToolTarget(_message.Message):
    __slots__ = ["service", "tool"]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    service: str
    tool: str
    def __init__(self, service: _Optional[str] = ..., tool: _Optional[str] = ...) -> None: ...

class PlannerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class StepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
