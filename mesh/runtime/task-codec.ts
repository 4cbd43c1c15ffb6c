import { TaskEvent, type StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import { Approval, Artifact, Message, Task, TaskState, TaskStatus } from '../../gen/agentmesh/v1/task.js';
import { isTerminal, type TaskEventRecord, type TaskRecord } from '../state/index.js';

/** What an agent keeps about a task besides the store's columns. */
export interface TaskData {
  agent: string;
  skillId: string;
  subject: string;
  requestId: string;
  text: string;
  input: Record<string, unknown>;
  status: unknown;
  artifacts: unknown[];
  history: unknown[];
  traceId: string;
  /** W3C trace context of the request that created the task: the task's span continues that trace, also after a restart. */
  traceContext?: Record<string, string>;
  /** The agent that sent this task on a user's behalf (the current actor), if any. */
  actor?: string;
  /** The whole act chain of the request that created the task, the current actor first (segregation of duties). */
  actors?: string[];
  /** The approver roles and scopes of every approval the task has waited for: their holders keep reading it. */
  askedOf?: { roles: string[]; scopes: string[] };
  /** Every answer given to the task's human steps (wire Approval JSON), oldest first. */
  approvals?: unknown[];
  /** The run budget the request asked for (TaskConfiguration.timeout), ms. */
  timeoutMs?: number;
  /** When the current run must be over (epoch ms); set each time the task starts working. */
  runDeadline?: number;
}

/** What a task's status asks of a person (stored InputRequest JSON), if it asks anything, whatever the state. */
export function inputRequestJson(record: TaskRecord): unknown {
  return ((record.data as unknown as TaskData).status as { inputRequest?: unknown } | undefined)?.inputRequest;
}

/** The wire Task for a stored task. */
export function toTask(record: TaskRecord, historyLength = 0): Task {
  const d = record.data as unknown as TaskData;
  const history = (d.history ?? []).map((m) => Message.fromJSON(m));
  return Task.fromPartial({
    id: record.id,
    contextId: record.contextId,
    status: { ...TaskStatus.fromJSON(d.status ?? {}), state: record.state },
    artifacts: (d.artifacts ?? []).map((a) => Artifact.fromJSON(a)),
    history: historyLength > 0 ? history.slice(-historyLength) : history,
    agent: d.agent,
    skillId: d.skillId,
    version: record.version,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    traceId: d.traceId,
    requestId: d.requestId,
    subject: d.subject,
    approvals: (d.approvals ?? []).map((a) => Approval.fromJSON(a)),
  });
}

/** A status event as stored (JSON of the TaskEvent's oneof). */
export function statusEvent(state: TaskState, message?: string, inputRequest?: unknown): unknown {
  const status = TaskStatus.toJSON(
    TaskStatus.fromPartial({
      state,
      timestamp: new Date(),
      message: message ? { messageId: '', role: 2, parts: [{ content: { $case: 'text', text: message } }] } : undefined,
      inputRequest: inputRequest as never,
    }),
  );
  return { statusUpdate: { status, final: isTerminal(state) } };
}

/** The wire TaskEvent for a stored event. */
export function toEvent(record: TaskEventRecord, contextId: string): StreamTaskResponse {
  const event = TaskEvent.fromJSON({
    ...(record.event as object),
    taskId: record.taskId,
    contextId,
    sequence: record.sequence,
    timestamp: record.at.toISOString(),
  });
  return { event };
}
