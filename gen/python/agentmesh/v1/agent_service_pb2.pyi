from agentmesh.v1 import card_pb2 as _card_pb2
from agentmesh.v1 import explain_pb2 as _explain_pb2
from agentmesh.v1 import plan_pb2 as _plan_pb2
from agentmesh.v1 import task_pb2 as _task_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CancelTaskRequest(_message.Message):
    __slots__ = ["reason", "task_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class ExplainTaskRequest(_message.Message):
    __slots__ = ["max_depth", "task_id"]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    max_depth: int
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., max_depth: _Optional[int] = ...) -> None: ...

class ExplainTaskResponse(_message.Message):
    __slots__ = ["explanation"]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    explanation: _explain_pb2.Explanation
    def __init__(self, explanation: _Optional[_Union[_explain_pb2.Explanation, _Mapping]] = ...) -> None: ...

class GetAgentCardRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetAgentCardResponse(_message.Message):
    __slots__ = ["card"]
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: _card_pb2.AgentCard
    def __init__(self, card: _Optional[_Union[_card_pb2.AgentCard, _Mapping]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ["history_length", "task_id"]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    history_length: int
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., history_length: _Optional[int] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ["context_id", "created_after", "created_before", "history_length", "include_artifacts", "page_size", "page_token", "status", "status_timestamp_after", "subject", "waiting_for_me"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_TIMESTAMP_AFTER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_ME_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    history_length: int
    include_artifacts: bool
    page_size: int
    page_token: str
    status: _task_pb2.TaskState
    status_timestamp_after: _timestamp_pb2.Timestamp
    subject: str
    waiting_for_me: bool
    def __init__(self, context_id: _Optional[str] = ..., status: _Optional[_Union[_task_pb2.TaskState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., history_length: _Optional[int] = ..., status_timestamp_after: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., include_artifacts: bool = ..., waiting_for_me: bool = ..., subject: _Optional[str] = ..., created_after: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ["next_page_token", "page_size", "tasks", "total_size"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    page_size: int
    tasks: _containers.RepeatedCompositeFieldContainer[_task_pb2.Task]
    total_size: int
    def __init__(self, tasks: _Optional[_Iterable[_Union[_task_pb2.Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., page_size: _Optional[int] = ..., total_size: _Optional[int] = ...) -> None: ...

class PlanCreated(_message.Message):
    __slots__ = ["plan"]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: _plan_pb2.TaskPlan
    def __init__(self, plan: _Optional[_Union[_plan_pb2.TaskPlan, _Mapping]] = ...) -> None: ...

class ProvideInputRequest(_message.Message):
    __slots__ = ["expected_version", "message", "step_id", "task_id"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    message: _task_pb2.Message
    step_id: str
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., step_id: _Optional[str] = ..., message: _Optional[_Union[_task_pb2.Message, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ProvideInputResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class SendTaskRequest(_message.Message):
    __slots__ = ["configuration", "message", "request_id", "skill_id"]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    configuration: TaskConfiguration
    message: _task_pb2.Message
    request_id: str
    skill_id: str
    def __init__(self, request_id: _Optional[str] = ..., message: _Optional[_Union[_task_pb2.Message, _Mapping]] = ..., skill_id: _Optional[str] = ..., configuration: _Optional[_Union[TaskConfiguration, _Mapping]] = ...) -> None: ...

class SendTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class StepFinished(_message.Message):
    __slots__ = ["reason", "state", "step_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    state: _plan_pb2.StepState
    step_id: str
    def __init__(self, step_id: _Optional[str] = ..., state: _Optional[_Union[_plan_pb2.StepState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class StepStarted(_message.Message):
    __slots__ = ["attempt", "step_id"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    step_id: str
    def __init__(self, step_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class StreamTaskRequest(_message.Message):
    __slots__ = ["message", "request_id", "skill_id"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    message: _task_pb2.Message
    request_id: str
    skill_id: str
    def __init__(self, request_id: _Optional[str] = ..., message: _Optional[_Union[_task_pb2.Message, _Mapping]] = ..., skill_id: _Optional[str] = ...) -> None: ...

class StreamTaskResponse(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TaskEvent
    def __init__(self, event: _Optional[_Union[TaskEvent, _Mapping]] = ...) -> None: ...

class SubscribeTaskRequest(_message.Message):
    __slots__ = ["after_sequence", "task_id"]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class SubscribeTaskResponse(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TaskEvent
    def __init__(self, event: _Optional[_Union[TaskEvent, _Mapping]] = ...) -> None: ...

class TaskArtifactUpdate(_message.Message):
    __slots__ = ["artifact"]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: _task_pb2.Artifact
    def __init__(self, artifact: _Optional[_Union[_task_pb2.Artifact, _Mapping]] = ...) -> None: ...

class TaskConfiguration(_message.Message):
    __slots__ = ["blocking", "history_length", "timeout"]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    blocking: bool
    history_length: int
    timeout: _duration_pb2.Duration
    def __init__(self, blocking: bool = ..., history_length: _Optional[int] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ["artifact_update", "context_id", "plan_created", "sequence", "status_update", "step_finished", "step_started", "task", "task_id", "timestamp"]
    ARTIFACT_UPDATE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_CREATED_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_UPDATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FINISHED_FIELD_NUMBER: _ClassVar[int]
    STEP_STARTED_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    artifact_update: TaskArtifactUpdate
    context_id: str
    plan_created: PlanCreated
    sequence: int
    status_update: TaskStatusUpdate
    step_finished: StepFinished
    step_started: StepStarted
    task: _task_pb2.Task
    task_id: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., context_id: _Optional[str] = ..., sequence: _Optional[int] = ..., timestamp: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., status_update: _Optional[_Union[TaskStatusUpdate, _Mapping]] = ..., artifact_update: _Optional[_Union[TaskArtifactUpdate, _Mapping]] = ..., plan_created: _Optional[_Union[PlanCreated, _Mapping]] = ..., step_started: _Optional[_Union[StepStarted, _Mapping]] = ..., step_finished: _Optional[_Union[StepFinished, _Mapping]] = ...) -> None: ...

class TaskStatusUpdate(_message.Message):
    __slots__ = ["final", "status"]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    final: bool
    status: _task_pb2.TaskStatus
    def __init__(self, status: _Optional[_Union[_task_pb2.TaskStatus, _Mapping]] = ..., final: bool = ...) -> None: ...
