// The A2A v1.0 rules an agent's answers must keep, as assertions: what the normative proto
// (lf.a2a.v1, specification/a2a.proto: fields marked REQUIRED, the Message rule for server
// messages) and the A2A TCK's requirements (CORE-*, STREAM-*, CARD-*, GRPC-ERR-*) say, for
// tests to run on every card, task and stream event an agent sends. The TCK itself is Python
// from PyPI, which these machines cannot reach; these are its checks, re-stated here.
import type { AgentCard, ListTasksResponse, Message, StreamResponse, Task, TaskStatus } from '@a2a-js/sdk';
import { Role, TaskState } from '@a2a-js/sdk';
import { decodeErrorInfo, decodeStatus, type GrpcA2AError } from '@a2a-js/sdk/errors/grpc';

/** The ErrorInfo domain of A2A errors (spec §10.6). */
export const A2A_ERROR_DOMAIN = 'a2a-protocol.org';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';

/** gRPC status of each A2A error (spec §5.4; TCK GRPC-ERR-002). */
export const A2A_ERROR_STATUS: Record<string, number> = {
  TASK_NOT_FOUND: 5,
  TASK_NOT_CANCELABLE: 9,
  PUSH_NOTIFICATION_NOT_SUPPORTED: 9,
  UNSUPPORTED_OPERATION: 9,
  CONTENT_TYPE_NOT_SUPPORTED: 3,
  INVALID_AGENT_RESPONSE: 13,
  EXTENDED_AGENT_CARD_NOT_CONFIGURED: 9,
  EXTENSION_SUPPORT_REQUIRED: 9,
  VERSION_NOT_SUPPORTED: 9,
  // Malformed request parameters (JSON-RPC -32602), the reason the official SDK uses.
  INVALID_PARAMS: 3,
};

const TERMINAL = new Set([
  TaskState.TASK_STATE_COMPLETED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED,
]);
const INTERRUPTED = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);

/** Whether a state ends a task (spec: completed, failed, canceled, rejected). */
export const isTerminalState = (s: TaskState | undefined) => s !== undefined && TERMINAL.has(s);
/** Whether a state interrupts a task until the client acts (input or auth required). */
export const isInterruptedState = (s: TaskState | undefined) => s !== undefined && INTERRUPTED.has(s);

/** ISO 8601 date-time with a zone, as the ProtoJSON Timestamp and the spec's examples write it. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function fail(where: string, what: string): never {
  throw new Error(`A2A conformance: ${where}: ${what}`);
}
function required(where: string, value: unknown, field: string): void {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0))
    fail(where, `${field} is required`);
}

/** AgentCard (spec §4.4.1; TCK CARD-STRUCT-001, CARD-PROTO-001/002): required fields, interfaces, security. */
export function checkAgentCard(card: AgentCard, where = 'AgentCard'): void {
  for (const f of ['name', 'description', 'version', 'supportedInterfaces', 'capabilities'] as const)
    required(where, card[f], f);
  required(where, card.defaultInputModes, 'defaultInputModes');
  required(where, card.defaultOutputModes, 'defaultOutputModes');
  if (!Array.isArray(card.skills)) fail(where, 'skills is required');
  card.supportedInterfaces.forEach((i, n) => {
    const at = `${where}.supportedInterfaces[${n}]`;
    required(at, i.url, 'url');
    required(at, i.protocolBinding, 'protocolBinding');
    required(at, i.protocolVersion, 'protocolVersion');
  });
  if (card.provider) {
    required(`${where}.provider`, card.provider.url, 'url');
    required(`${where}.provider`, card.provider.organization, 'organization');
  }
  card.skills.forEach((s, n) => {
    const at = `${where}.skills[${n}]`;
    for (const f of ['id', 'name', 'description'] as const) required(at, s[f], f);
    if (!Array.isArray(s.tags)) fail(at, 'tags is required');
    for (const r of s.securityRequirements) checkRequirement(card, r, `${at}.securityRequirements`);
  });
  for (const [name, scheme] of Object.entries(card.securitySchemes)) {
    const at = `${where}.securitySchemes.${name}`;
    const s = scheme.scheme;
    if (!s) fail(at, 'a scheme is required');
    if (s.$case === 'oauth2SecurityScheme') {
      const flow = s.value.flows?.flow;
      if (!flow) fail(at, 'flows is required');
      if (flow.$case === 'clientCredentials') {
        required(at, flow.value.tokenUrl, 'flows.clientCredentials.tokenUrl');
        if (!/^https:\/\//.test(flow.value.tokenUrl)) fail(at, 'the token URL must use TLS');
        if (typeof flow.value.scopes !== 'object') fail(at, 'flows.clientCredentials.scopes is required');
      }
      if (s.value.oauth2MetadataUrl && !/^https:\/\//.test(s.value.oauth2MetadataUrl))
        fail(at, 'oauth2MetadataUrl must use TLS');
    }
  }
  for (const r of card.securityRequirements) checkRequirement(card, r, `${where}.securityRequirements`);
  for (const e of card.capabilities!.extensions) required(`${where}.capabilities.extensions`, e.uri, 'uri');
}

/** A security requirement names only schemes the card declares. */
function checkRequirement(card: AgentCard, r: AgentCard['securityRequirements'][number], at: string): void {
  for (const name of Object.keys(r.schemes))
    if (!card.securitySchemes[name]) fail(at, `names scheme ${name}, which securitySchemes does not declare`);
}

/** TaskStatus: a state, an ISO 8601 timestamp when present, and a conforming server message. */
function checkStatus(s: TaskStatus | undefined, task: { id: string; contextId: string }, where: string): void {
  if (!s) fail(where, 'status is required');
  if (!s.state) fail(where, 'status.state is required (not UNSPECIFIED)');
  if (s.timestamp !== undefined && !ISO_8601.test(s.timestamp))
    fail(where, `status.timestamp ${s.timestamp} is not ISO 8601`);
  if (s.message) checkMessage(s.message, `${where}.status.message`, task);
}

/**
 * Message (spec §4.1.4): message_id, role and parts are required; a server message
 * (ROLE_AGENT) carries its context_id, and its task's id when it belongs to one; any
 * ids it carries are its task's.
 */
export function checkMessage(m: Message, where: string, task?: { id: string; contextId: string }): void {
  required(where, m.messageId, 'messageId');
  if (m.role !== Role.ROLE_USER && m.role !== Role.ROLE_AGENT) fail(where, `role ${m.role} is not USER or AGENT`);
  required(where, m.parts, 'parts');
  m.parts.forEach((p, n) => {
    if (!p.content) fail(`${where}.parts[${n}]`, 'content (text, raw, url or data) is required');
  });
  if (m.role === Role.ROLE_AGENT) {
    required(where, m.contextId, 'contextId (server messages carry their context)');
    if (task) required(where, m.taskId, 'taskId (a server message of a task names it)');
  }
  if (task && m.taskId && m.taskId !== task.id) fail(where, `taskId ${m.taskId} is not the task's ${task.id}`);
  if (task && m.contextId && m.contextId !== task.contextId)
    fail(where, `contextId ${m.contextId} is not the task's ${task.contextId}`);
}

/** Task (spec §4.1.1; TCK CORE-GET-001): id, context, status; messages and artifacts conform. */
export function checkTask(t: Task, where = 'Task'): void {
  required(where, t.id, 'id');
  required(where, t.contextId, 'contextId (the server assigns one)');
  checkStatus(t.status, t, where);
  t.history.forEach((m, n) => checkMessage(m, `${where}.history[${n}]`, t));
  const ids = new Set<string>();
  t.artifacts.forEach((a, n) => {
    const at = `${where}.artifacts[${n}]`;
    required(at, a.artifactId, 'artifactId');
    required(at, a.parts, 'parts');
    if (ids.has(a.artifactId)) fail(at, `artifactId ${a.artifactId} is not unique within the task`);
    ids.add(a.artifactId);
  });
}

/**
 * A whole stream (SendStreamingMessage or SubscribeToTask; TCK CORE-STREAM-003,
 * STREAM-SUB-001/002): it begins with the Task, every event is about that task and
 * conforms, and nothing follows a terminal status (the stream closes there).
 */
export function checkTaskStream(events: StreamResponse[], where = 'stream'): void {
  const first = events[0]?.payload;
  if (first?.$case !== 'task') fail(where, `the first event must be the Task, not ${first?.$case ?? 'nothing'}`);
  const task = first.value;
  checkTask(task, `${where}[0]`);
  let state = task.status?.state;
  events.slice(1).forEach((e, i) => {
    const at = `${where}[${i + 1}]`;
    const p = e.payload;
    if (!p) fail(at, 'an event needs a payload');
    if (isTerminalState(state)) fail(at, 'an event after the terminal state');
    if (p.$case === 'task') {
      checkTask(p.value, at);
      if (p.value.id !== task.id) fail(at, `a Task of another task ${p.value.id}`);
      state = p.value.status?.state;
      return;
    }
    if (p.$case === 'message') fail(at, 'a Message in a task stream');
    const u = p.value;
    required(at, u.taskId, 'taskId');
    required(at, u.contextId, 'contextId');
    if (u.taskId !== task.id || u.contextId !== task.contextId)
      fail(at, `about task ${u.taskId}/${u.contextId}, not ${task.id}/${task.contextId}`);
    if (p.$case === 'statusUpdate') {
      checkStatus(p.value.status, task, at);
      state = p.value.status?.state;
    } else {
      if (!p.value.artifact) fail(at, 'artifact is required');
      required(at, p.value.artifact.artifactId, 'artifact.artifactId');
      required(at, p.value.artifact.parts, 'artifact.parts');
    }
  });
}

/**
 * ListTasksResponse (spec §3.1.4; TCK CORE-LIST-002..005): the page fields are set
 * (next_page_token empty on the last page), tasks newest status first, no artifacts
 * unless asked for.
 */
export function checkListTasks(r: ListTasksResponse, includeArtifacts: boolean, where = 'ListTasksResponse'): void {
  if (typeof r.nextPageToken !== 'string') fail(where, 'nextPageToken is required ("" on the last page)');
  if (!(r.pageSize > 0)) fail(where, 'pageSize is required');
  if (!(r.totalSize >= r.tasks.length)) fail(where, `totalSize ${r.totalSize} is less than the page`);
  r.tasks.forEach((t, n) => {
    checkTask(t, `${where}.tasks[${n}]`);
    if (!includeArtifacts && t.artifacts.length > 0) fail(`${where}.tasks[${n}]`, 'artifacts were not asked for');
  });
  const times = r.tasks.map((t) => Date.parse(t.status?.timestamp ?? ''));
  for (let i = 1; i < times.length; i++)
    if (times[i]! > times[i - 1]!) fail(where, `tasks are not sorted by status timestamp, newest first (at ${i})`);
}

/**
 * An A2A error as the gRPC binding carries it (spec §10.6; TCK GRPC-ERR-001/002): the
 * status the spec maps its reason to, and google.rpc.Status in grpc-status-details-bin
 * with an ErrorInfo of that reason in domain a2a-protocol.org.
 */
export function checkA2aError(err: unknown, reason: string): { code: number; message: string } {
  const e = err as Partial<GrpcA2AError>;
  if (!e.statusDetailsBin) fail(reason, `no grpc-status-details-bin in ${String(err)}`);
  const status = decodeStatus(e.statusDetailsBin);
  if (status.code !== A2A_ERROR_STATUS[reason] || e.status !== status.code)
    fail(reason, `gRPC status ${e.status} (details ${status.code}), not ${A2A_ERROR_STATUS[reason]}`);
  const infos = status.details.filter((d) => d.typeUrl === ERROR_INFO_TYPE).map((d) => decodeErrorInfo(d.value));
  if (infos.length !== 1) fail(reason, `${infos.length} ErrorInfo details, not 1`);
  if (infos[0]!.reason !== reason || infos[0]!.domain !== A2A_ERROR_DOMAIN)
    fail(reason, `ErrorInfo ${infos[0]!.reason}@${infos[0]!.domain}`);
  return { code: status.code, message: status.message };
}
