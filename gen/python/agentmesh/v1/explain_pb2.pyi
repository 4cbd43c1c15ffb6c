from agentmesh.v1 import plan_pb2 as _plan_pb2
from agentmesh.v1 import task_pb2 as _task_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChildExplanation(_message.Message):
    __slots__ = ["explanation", "gap", "step_id", "task"]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    explanation: Explanation
    gap: ExplanationGap
    step_id: str
    task: _task_pb2.TaskRef
    def __init__(self, step_id: _Optional[str] = ..., task: _Optional[_Union[_task_pb2.TaskRef, _Mapping]] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ..., gap: _Optional[_Union[ExplanationGap, _Mapping]] = ...) -> None: ...

class CollaboratorChoice(_message.Message):
    __slots__ = ["address", "alternatives", "name", "reasons", "score", "step_id", "version"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    address: str
    alternatives: _containers.RepeatedScalarFieldContainer[str]
    name: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    score: float
    step_id: str
    version: str
    def __init__(self, step_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., address: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., score: _Optional[float] = ..., alternatives: _Optional[_Iterable[str]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ["children", "collaborators", "execution", "plan", "planning", "substitutions", "task"]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    COLLABORATORS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    PLANNING_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SUBSTITUTIONS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    children: _containers.RepeatedCompositeFieldContainer[ChildExplanation]
    collaborators: _containers.RepeatedCompositeFieldContainer[CollaboratorChoice]
    execution: _containers.RepeatedCompositeFieldContainer[StepExecution]
    plan: _plan_pb2.TaskPlan
    planning: PlanningRecord
    substitutions: _containers.RepeatedCompositeFieldContainer[Substitution]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., plan: _Optional[_Union[_plan_pb2.TaskPlan, _Mapping]] = ..., planning: _Optional[_Union[PlanningRecord, _Mapping]] = ..., collaborators: _Optional[_Iterable[_Union[CollaboratorChoice, _Mapping]]] = ..., substitutions: _Optional[_Iterable[_Union[Substitution, _Mapping]]] = ..., execution: _Optional[_Iterable[_Union[StepExecution, _Mapping]]] = ..., children: _Optional[_Iterable[_Union[ChildExplanation, _Mapping]]] = ...) -> None: ...

class ExplanationGap(_message.Message):
    __slots__ = ["code", "reason"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanningAttempt(_message.Message):
    __slots__ = ["attempt", "duration", "prompt", "raw_output", "started_at", "usage", "validation_errors"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RAW_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ERRORS_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    duration: _duration_pb2.Duration
    prompt: str
    raw_output: str
    started_at: _timestamp_pb2.Timestamp
    usage: TokenUsage
    validation_errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, attempt: _Optional[int] = ..., prompt: _Optional[str] = ..., raw_output: _Optional[str] = ..., validation_errors: _Optional[_Iterable[str]] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PlanningRecord(_message.Message):
    __slots__ = ["attempts", "model", "planner", "playbook_id"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PLANNER_FIELD_NUMBER: _ClassVar[int]
    PLAYBOOK_ID_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[PlanningAttempt]
    model: str
    planner: _plan_pb2.PlannerKind
    playbook_id: str
    def __init__(self, planner: _Optional[_Union[_plan_pb2.PlannerKind, str]] = ..., playbook_id: _Optional[str] = ..., model: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[PlanningAttempt, _Mapping]]] = ...) -> None: ...

class StepAttempt(_message.Message):
    __slots__ = ["attempt", "child_task", "code", "duration", "error", "finished_at", "idempotency_key", "model", "started_at", "trace_id", "usage"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CHILD_TASK_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    child_task: _task_pb2.TaskRef
    code: str
    duration: _duration_pb2.Duration
    error: str
    finished_at: _timestamp_pb2.Timestamp
    idempotency_key: str
    model: str
    started_at: _timestamp_pb2.Timestamp
    trace_id: str
    usage: TokenUsage
    def __init__(self, attempt: _Optional[int] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., code: _Optional[str] = ..., error: _Optional[str] = ..., trace_id: _Optional[str] = ..., child_task: _Optional[_Union[_task_pb2.TaskRef, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ...) -> None: ...

class StepExecution(_message.Message):
    __slots__ = ["attempts", "output", "reason", "state", "step_id"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[StepAttempt]
    output: _struct_pb2.Value
    reason: str
    state: _plan_pb2.StepState
    step_id: str
    def __init__(self, step_id: _Optional[str] = ..., state: _Optional[_Union[_plan_pb2.StepState, str]] = ..., attempts: _Optional[_Iterable[_Union[StepAttempt, _Mapping]]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class Substitution(_message.Message):
    __slots__ = ["path", "source", "step_id", "template", "value"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    path: str
    source: str
    step_id: str
    template: str
    value: _struct_pb2.Value
    def __init__(self, step_id: _Optional[str] = ..., path: _Optional[str] = ..., template: _Optional[str] = ..., source: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ["completion_tokens", "prompt_tokens"]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    completion_tokens: int
    prompt_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ...) -> None: ...
