import type {
  Artifact as A2aArtifact,
  Message as A2aMessage,
  Part as A2aPart,
  StreamResponse,
  Task as A2aTask,
  TaskStatus as A2aTaskStatus,
} from '@a2a-js/sdk';
import type { StreamTaskResponse } from '../../../gen/agentmesh/v1/agent_service.js';
import {
  InputRequest,
  type Artifact,
  type Message,
  type Part,
  type Task,
  type TaskStatus,
} from '../../../gen/agentmesh/v1/task.js';

// The two bindings share task states, roles and parts by number and meaning
// (AgentService was shaped after A2A): the mapping is field by field; what A2A
// has no field for travels under the metadata key "agentmesh".

/** The metadata key of agentmesh's own facts about a task (skill, version, what a waiting step asks). */
export const AGENTMESH_KEY = 'agentmesh';

const toA2aPart = (p: Part): A2aPart => ({
  content:
    p.content?.$case === 'text'
      ? { $case: 'text', value: p.content.text }
      : p.content?.$case === 'raw'
        ? { $case: 'raw', value: p.content.raw }
        : p.content?.$case === 'url'
          ? { $case: 'url', value: p.content.url }
          : p.content?.$case === 'data'
            ? { $case: 'data', value: p.content.data }
            : undefined,
  metadata: p.metadata,
  filename: p.filename,
  mediaType: p.mediaType,
});

const fromA2aPart = (p: A2aPart): Part => ({
  content:
    p.content?.$case === 'text'
      ? { $case: 'text', text: p.content.value }
      : p.content?.$case === 'raw'
        ? { $case: 'raw', raw: p.content.value }
        : p.content?.$case === 'url'
          ? { $case: 'url', url: p.content.value }
          : p.content?.$case === 'data'
            ? { $case: 'data', data: p.content.value }
            : undefined,
  metadata: p.metadata,
  filename: p.filename,
  mediaType: p.mediaType,
});

/** An agentmesh message as A2A's. */
export const toA2aMessage = (m: Message): A2aMessage => ({
  messageId: m.messageId,
  contextId: m.contextId,
  taskId: m.taskId,
  role: m.role,
  parts: m.parts.map(toA2aPart),
  metadata: m.metadata,
  extensions: [],
  referenceTaskIds: m.referenceTaskIds,
});

/** An A2A message as agentmesh's (extensions are not carried: this agent activates none). */
export const fromA2aMessage = (m: A2aMessage): Message => ({
  messageId: m.messageId,
  contextId: m.contextId,
  taskId: m.taskId,
  role: m.role,
  parts: m.parts.map(fromA2aPart),
  metadata: m.metadata,
  referenceTaskIds: m.referenceTaskIds,
});

const toA2aArtifact = (a: Artifact): A2aArtifact => ({
  artifactId: a.artifactId,
  name: a.name,
  description: a.description,
  parts: a.parts.map(toA2aPart),
  metadata: a.metadata,
  extensions: [],
});

/**
 * A status as A2A's (the question a waiting step asks is its message; the
 * step itself is in the task's metadata). A2A requires a message id: a status
 * message without one gets a stable one from its task and time. It is a
 * server message of the task, which A2A says carries its context and task ids.
 */
const toA2aStatus = (s: TaskStatus | undefined, task: { id: string; contextId: string }): A2aTaskStatus | undefined =>
  s && {
    state: s.state,
    message: s.message && {
      ...toA2aMessage(s.message),
      messageId: s.message.messageId || `${task.id}/status/${s.timestamp?.getTime() ?? 0}`,
      contextId: s.message.contextId || task.contextId,
      taskId: s.message.taskId || task.id,
    },
    timestamp: s.timestamp?.toISOString(),
  };

/**
 * A task as A2A's. `history`: A2A's history_length (unset: all, 0: none).
 * The metadata's "agentmesh" entry says what A2A cannot: the agent and
 * skill, the task's version, and the input request of a waiting step (its
 * step id, prompt, schema, choices and who may answer).
 */
export function toA2aTask(t: Task, history?: number, artifacts = true): A2aTask {
  const inputRequest = t.status?.inputRequest;
  return {
    id: t.id,
    contextId: t.contextId,
    // A task just submitted has no status event yet: its status was recorded when the task was.
    status: toA2aStatus(t.status && { ...t.status, timestamp: t.status.timestamp ?? t.updatedAt }, t),
    artifacts: artifacts ? t.artifacts.map(toA2aArtifact) : [],
    history: (history === undefined ? t.history : history === 0 ? [] : t.history.slice(-history)).map(toA2aMessage),
    metadata: {
      ...t.metadata,
      [AGENTMESH_KEY]: {
        agent: t.agent,
        skillId: t.skillId,
        version: t.version,
        traceId: t.traceId,
        ...(inputRequest ? { inputRequest: InputRequest.toJSON(inputRequest) } : {}),
      },
    },
  };
}

/**
 * An agentmesh task event as A2A's stream response; plan and step events
 * have no A2A form (StreamTask and SubscribeTask carry them) and are left out.
 */
export function toA2aEvent(e: StreamTaskResponse): StreamResponse | undefined {
  const ev = e.event;
  switch (ev?.event?.$case) {
    case 'task':
      return { payload: { $case: 'task', value: toA2aTask(ev.event.task) } };
    case 'statusUpdate':
      return {
        payload: {
          $case: 'statusUpdate',
          value: {
            taskId: ev.taskId,
            contextId: ev.contextId,
            status: toA2aStatus(ev.event.statusUpdate.status, { id: ev.taskId, contextId: ev.contextId }),
            metadata: inputRequestMetadata(ev.event.statusUpdate.status),
          },
        },
      };
    case 'artifactUpdate':
      return {
        payload: {
          $case: 'artifactUpdate',
          value: {
            taskId: ev.taskId,
            contextId: ev.contextId,
            artifact: ev.event.artifactUpdate.artifact && toA2aArtifact(ev.event.artifactUpdate.artifact),
            append: false,
            lastChunk: true,
            metadata: undefined,
          },
        },
      };
    default:
      return undefined;
  }
}

/** A waiting step's input request, for a status update's metadata (what to answer, and who may). */
function inputRequestMetadata(s: TaskStatus | undefined): Record<string, unknown> | undefined {
  return s?.inputRequest ? { [AGENTMESH_KEY]: { inputRequest: InputRequest.toJSON(s.inputRequest) } } : undefined;
}
