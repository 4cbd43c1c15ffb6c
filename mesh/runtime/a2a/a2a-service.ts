import type { AgentCard as A2aCard, SendMessageRequest, StreamResponse } from '@a2a-js/sdk';
import type { A2AService } from '@a2a-js/sdk/server/grpc';
import { TaskState, type Message } from '../../../gen/agentmesh/v1/task.js';
import { Code, MeshError, type CallContext, type ServiceImplementation } from '../../core/index.js';
import { isTerminal, type Store, type TaskRecord } from '../../state/index.js';
import type { AgentRuntime } from '../agent-runtime.js';
import { callerOf, refuseAuditor, visibleTask } from '../agent-service.js';
import { listTasks } from '../list-tasks.js';
import { AUDITORS_CHANGE_NOTHING } from '../task-access.js';
import { inputRequestJson, toTask } from '../task-codec.js';
import { A2A_PROTOCOL_VERSION, INPUT_MODES, OUTPUT_MODES } from './a2a-card.js';
import { AGENTMESH_KEY, fromA2aMessage, toA2aEvent, toA2aTask } from './a2a-codec.js';
import { authorize, type ServicePolicy } from '../../security/index.js';
import { a2aError, toA2aError } from './a2a-errors.js';

/** What the A2A binding needs of its agent. */
export interface A2aServiceDeps {
  runtime: AgentRuntime;
  store: Store;
  auditorRoles: readonly string[];
  /**
   * The agent's policy: a message that answers a task is an answer, and must
   * be allowed as ProvideInput is (the SendTask rule that lets SendMessage
   * through at the door says nothing about answering).
   */
  policy: ServicePolicy;
  /** The extended card (GetExtendedAgentCard). */
  extendedCard: () => A2aCard;
}

/** The key of SendMessageRequest.metadata naming the skill (A2A has no field for it; empty: the agent's only skill). */
export const SKILL_METADATA_KEY = 'skillId';

/**
 * Refuses a request without the protocol version this agent speaks: A2A
 * clients send `a2a-version` (spec §3.6.2; absent means 0.3, which this
 * binding is not).
 */
function checkVersion(ctx: CallContext): void {
  const asked = ctx.metadata.get('a2a-version')[0]?.toString();
  const major = (v: string) => v.split('.').slice(0, 2).join('.');
  if (!asked || major(asked) !== A2A_PROTOCOL_VERSION)
    throw a2aError(
      'VERSION_NOT_SUPPORTED',
      `a2a-version ${asked ?? '(absent: 0.3)'} is not supported; this agent speaks ${A2A_PROTOCOL_VERSION}`,
    );
}

/** The method whose policy rule decides who may answer a task, whichever binding the answer comes by. */
const PROVIDE_INPUT = '/agentmesh.v1.AgentService/ProvideInput';

/** A2A's history_length: unset (all) or a count, never negative. */
function checkHistoryLength(n: number | undefined): void {
  if (n !== undefined && n < 0) throw a2aError('INVALID_PARAMS', 'history_length: must not be negative');
}

/** A multi-tenant path this agent does not have: the only tenant is the empty one. */
function checkTenant(tenant: string): void {
  if (tenant) throw a2aError('INVALID_PARAMS', `tenant: this agent has no tenant ${JSON.stringify(tenant)}`);
}

/**
 * The card's input modes are text and JSON (text and data parts) and its
 * output modes JSON and text: a file part (raw bytes or a URL, which this
 * agent would never fetch), a part of a media type the card does not list
 * (spec §3.1.1; parameters such as charset aside, no media type says
 * nothing), or a caller accepting neither output mode is refused with
 * CONTENT_TYPE_NOT_SUPPORTED rather than silently ignored.
 */
function checkContentTypes(req: SendMessageRequest): void {
  const file = req.message?.parts.find((p) => p.content?.$case === 'raw' || p.content?.$case === 'url');
  if (file)
    throw a2aError(
      'CONTENT_TYPE_NOT_SUPPORTED',
      `message.parts: ${file.content!.$case} parts are not accepted (input modes: ${INPUT_MODES.join(', ')})`,
    );
  for (const p of req.message?.parts ?? []) {
    const essence = p.mediaType.split(';')[0]!.trim().toLowerCase();
    if (essence && !INPUT_MODES.includes(essence))
      throw a2aError(
        'CONTENT_TYPE_NOT_SUPPORTED',
        `message.parts: media type ${JSON.stringify(p.mediaType)} is not accepted; this agent accepts ${INPUT_MODES.join(', ')}`,
      );
  }
  const accepted = req.configuration?.acceptedOutputModes ?? [];
  if (accepted.length && !accepted.some((m) => OUTPUT_MODES.includes(m)))
    throw a2aError(
      'CONTENT_TYPE_NOT_SUPPORTED',
      `configuration.accepted_output_modes: this agent answers in ${OUTPUT_MODES.join(', ')}`,
    );
}

/**
 * A2AService (lf.a2a.v1, the A2A v1.0 gRPC binding) over the agent's runtime:
 * the same tasks, access rules, audit and human-step rules as AgentService.
 * A message without task_id starts a task (its message_id is the request's
 * idempotency key); one with the task_id of a task waiting for input answers
 * that step, as ProvideInput would.
 */
export function a2aService(deps: A2aServiceDeps): ServiceImplementation<typeof A2AService> {
  const { runtime, store, auditorRoles } = deps;
  const visible = (taskId: string, ctx: CallContext) => {
    ctx.taskId = taskId || undefined;
    if (!taskId) throw a2aError('INVALID_PARAMS', 'id: required');
    return visibleTask(store, taskId, callerOf(ctx), auditorRoles);
  };

  /**
   * Starts a task or answers the one the message names. Resolves with the task
   * as it is now and the sequence of its last event before this message (a
   * stream continues from there).
   */
  async function accept(req: SendMessageRequest, ctx: CallContext): Promise<{ rec: TaskRecord; after: number }> {
    checkTenant(req.tenant);
    if (!req.message) throw a2aError('INVALID_PARAMS', 'message: required');
    if (req.configuration?.taskPushNotificationConfig)
      throw a2aError(
        'PUSH_NOTIFICATION_NOT_SUPPORTED',
        'push notifications are not supported: stream or poll the task',
      );
    checkHistoryLength(req.configuration?.historyLength);
    checkContentTypes(req);
    const message: Message = fromA2aMessage(req.message);
    if (!message.messageId) throw a2aError('INVALID_PARAMS', 'message.message_id: required (it makes retries safe)');
    if (message.taskId) return answer(message, ctx);
    refuseAuditor(callerOf(ctx), auditorRoles);
    const skill = req.metadata?.[SKILL_METADATA_KEY];
    const rec = await runtime.send(
      {
        requestId: message.messageId,
        message,
        skillId: typeof skill === 'string' ? skill : '',
        configuration: undefined,
      },
      callerOf(ctx),
    );
    ctx.taskId = rec.id;
    return { rec, after: 0 };
  }

  /**
   * A message on a task waiting for input answers its step, as ProvideInput
   * would: allowed only where the policy allows ProvideInput, judged by the
   * same human-step rules, refusals on the record as ProvideInput's are. The
   * same message again (a retry: its message_id is already in the task's
   * history) changes nothing and answers the task as it is. Optional
   * `metadata.agentmesh.stepId` and `expectedVersion` pin the step and the
   * version the answer is for, so a late retry never answers a later step.
   */
  async function answer(message: Message, ctx: CallContext): Promise<{ rec: TaskRecord; after: number }> {
    const caller = callerOf(ctx);
    const stepOf = (rec: TaskRecord) => (inputRequestJson(rec) as { stepId?: string } | undefined)?.stepId ?? '';
    const { rec, access } = await visible(message.taskId, ctx).catch(async (err: unknown) => {
      const unseen = await store.tasks.find(message.taskId);
      if (unseen) await runtime.refuseUnseen(unseen, stepOf(unseen), message, caller);
      throw err;
    });
    const refuse = async (code: Code, reason: string, error: MeshError) => {
      await runtime.refuseAnswer(rec, stepOf(rec), caller, code, reason);
      return error;
    };
    const door = authorize(deps.policy, PROVIDE_INPUT, { spiffeId: ctx.identity?.spiffeId, scopes: caller.scopes });
    if (!door.allowed)
      throw await refuse(Code.PERMISSION_DENIED, door.reason, new MeshError(Code.PERMISSION_DENIED, door.reason));
    if (access === 'audit')
      throw await refuse(
        Code.PERMISSION_DENIED,
        AUDITORS_CHANGE_NOTHING,
        new MeshError(Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING),
      );
    const history = (rec.data as { history?: { messageId?: string }[] }).history ?? [];
    if (history.some((m) => m.messageId === message.messageId)) return { rec, after: await lastSequence(rec.id) };
    const pinned = (message.metadata?.[AGENTMESH_KEY] ?? {}) as { stepId?: unknown; expectedVersion?: unknown };
    if (message.contextId && message.contextId !== rec.contextId) {
      const why = `message.context_id: task ${rec.id} belongs to another context`;
      throw await refuse(Code.INVALID_ARGUMENT, why, a2aError('INVALID_PARAMS', why));
    }
    if (rec.state !== TaskState.TASK_STATE_INPUT_REQUIRED) {
      const why = `task ${rec.id} is ${TaskState[rec.state]}: only a task waiting for input accepts a message`;
      throw await refuse(Code.FAILED_PRECONDITION, why, a2aError('UNSUPPORTED_OPERATION', why));
    }
    const after = await lastSequence(rec.id);
    // Who may answer (the subject for a question, entitled others for an approval) is the runtime's decision, audited there.
    const next = await runtime.provideInput(
      rec.id,
      typeof pinned.stepId === 'string' && pinned.stepId ? pinned.stepId : stepOf(rec),
      message,
      typeof pinned.expectedVersion === 'number' ? pinned.expectedVersion : 0,
      caller,
    );
    return { rec: next, after };
  }

  /** The sequence of a task's last event so far (0: none). */
  const lastSequence = async (taskId: string) => (await store.events.list(taskId, {})).at(-1)?.sequence ?? 0;

  return {
    async sendMessage(req, ctx) {
      checkVersion(ctx);
      try {
        const { rec } = await accept(req, ctx);
        const settled = req.configuration?.returnImmediately ? rec : await runtime.settled(rec.id, ctx.signal);
        return {
          payload: { $case: 'task', value: toA2aTask(toTask(settled), req.configuration?.historyLength) },
        };
      } catch (err) {
        throw toA2aError(err);
      }
    },
    async *sendStreamingMessage(req, ctx) {
      checkVersion(ctx);
      let accepted: { rec: TaskRecord; after: number };
      try {
        accepted = await accept(req, ctx);
      } catch (err) {
        throw toA2aError(err);
      }
      const { rec, after } = accepted;
      // The task first (spec: a stream starts with the Task), then its events until it ends or waits again.
      yield { payload: { $case: 'task', value: toA2aTask(toTask(rec)) } } satisfies StreamResponse;
      yield* a2aEvents(runtime.events(rec.id, after, ctx.signal, true));
    },
    async getTask(req, ctx) {
      checkVersion(ctx);
      checkTenant(req.tenant);
      try {
        checkHistoryLength(req.historyLength);
        const { rec } = await visible(req.id, ctx);
        if (runtime.remember(rec, callerOf(ctx))) ctx.changedState = true;
        return toA2aTask(toTask(rec), req.historyLength);
      } catch (err) {
        throw toA2aError(err);
      }
    },
    async listTasks(req, ctx) {
      checkVersion(ctx);
      checkTenant(req.tenant);
      try {
        const after = req.statusTimestampAfter ? new Date(req.statusTimestampAfter) : undefined;
        if (after && Number.isNaN(after.getTime()))
          throw a2aError('INVALID_PARAMS', 'status_timestamp_after: not a timestamp');
        const page = await listTasks(
          store,
          {
            contextId: req.contextId,
            status: req.status,
            pageSize: req.pageSize ?? 0,
            pageToken: req.pageToken,
            historyLength: req.historyLength ?? 0,
            statusTimestampAfter: after,
            includeArtifacts: req.includeArtifacts ?? false,
            waitingForMe: false,
            subject: '',
            createdAfter: undefined,
            createdBefore: undefined,
          },
          callerOf(ctx),
          auditorRoles,
        );
        return {
          tasks: page.tasks.map((t) => toA2aTask(t, undefined, req.includeArtifacts ?? false)),
          nextPageToken: page.nextPageToken,
          pageSize: page.pageSize,
          totalSize: page.totalSize,
        };
      } catch (err) {
        throw toA2aError(err);
      }
    },
    async cancelTask(req, ctx) {
      checkVersion(ctx);
      checkTenant(req.tenant);
      try {
        const { rec, access } = await visible(req.id, ctx);
        if (access === 'audit') throw new MeshError(Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
        if (access !== 'steer')
          throw new MeshError(Code.PERMISSION_DENIED, `only the subject of task ${req.id} may cancel it`);
        if (isTerminal(rec.state))
          throw a2aError('TASK_NOT_CANCELABLE', `task ${req.id} is already ${TaskState[rec.state]}`);
        const reason = typeof req.metadata?.reason === 'string' ? req.metadata.reason : '';
        return toA2aTask(toTask(await runtime.cancel(req.id, reason, callerOf(ctx))));
      } catch (err) {
        const e = MeshError.from(err);
        // Ended between the check and the cancel.
        if (e.code === Code.FAILED_PRECONDITION && !e.metadata) throw a2aError('TASK_NOT_CANCELABLE', e.message);
        throw toA2aError(err);
      }
    },
    async *subscribeToTask(req, ctx) {
      checkVersion(ctx);
      checkTenant(req.tenant);
      let rec: TaskRecord;
      try {
        rec = (await visible(req.id, ctx)).rec;
      } catch (err) {
        throw toA2aError(err);
      }
      if (isTerminal(rec.state))
        throw a2aError(
          'UNSUPPORTED_OPERATION',
          `task ${rec.id} is ${TaskState[rec.state]}: there is nothing to follow`,
        );
      if (runtime.remember(rec, callerOf(ctx))) ctx.changedState = true;
      // Events after `last` may also be in the snapshot read next: a follower can see one twice, never miss one.
      const last = await lastSequence(rec.id);
      yield {
        payload: { $case: 'task', value: toA2aTask(toTask(await store.tasks.get(rec.id))) },
      } satisfies StreamResponse;
      yield* a2aEvents(runtime.events(rec.id, last, ctx.signal));
    },
    async getExtendedAgentCard(req, ctx) {
      checkVersion(ctx);
      checkTenant(req.tenant);
      return deps.extendedCard();
    },
    async createTaskPushNotificationConfig(_req, ctx) {
      return notSupported(ctx);
    },
    async getTaskPushNotificationConfig(_req, ctx) {
      return notSupported(ctx);
    },
    async listTaskPushNotificationConfigs(_req, ctx) {
      return notSupported(ctx);
    },
    async deleteTaskPushNotificationConfig(_req, ctx) {
      return notSupported(ctx);
    },
  };
}

/** Push notifications are a documented choice: not supported (a webhook would be a new egress path for task data). */
function notSupported(ctx: CallContext): never {
  checkVersion(ctx);
  throw a2aError('PUSH_NOTIFICATION_NOT_SUPPORTED', 'push notifications are not supported: stream or poll the task');
}

async function* a2aEvents(events: AsyncIterable<Parameters<typeof toA2aEvent>[0]>): AsyncGenerator<StreamResponse> {
  for await (const e of events) {
    const out = toA2aEvent(e);
    if (out) yield out;
  }
}
