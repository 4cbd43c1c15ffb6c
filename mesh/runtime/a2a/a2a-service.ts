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
import { fromA2aMessage, toA2aEvent, toA2aTask } from './a2a-codec.js';
import { a2aError, toA2aError } from './a2a-errors.js';

/** What the A2A binding needs of its agent. */
export interface A2aServiceDeps {
  runtime: AgentRuntime;
  store: Store;
  auditorRoles: readonly string[];
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

  /** Starts a task or answers the one the message names; resolves with the task as it is now. */
  async function accept(req: SendMessageRequest, ctx: CallContext): Promise<TaskRecord> {
    checkTenant(req.tenant);
    if (!req.message) throw a2aError('INVALID_PARAMS', 'message: required');
    if (req.configuration?.taskPushNotificationConfig)
      throw a2aError(
        'PUSH_NOTIFICATION_NOT_SUPPORTED',
        'push notifications are not supported: stream or poll the task',
      );
    checkContentTypes(req);
    const message: Message = fromA2aMessage(req.message);
    if (message.taskId) return answer(message, ctx);
    refuseAuditor(callerOf(ctx), auditorRoles);
    if (!message.messageId) throw a2aError('INVALID_PARAMS', 'message.message_id: required (it makes retries safe)');
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
    return rec;
  }

  /**
   * A message on a task waiting for input answers its step; any other task
   * accepts no message. Refused answers are on the record as ProvideInput's
   * are: one to a task the caller may not see, and one by an auditor.
   */
  async function answer(message: Message, ctx: CallContext): Promise<TaskRecord> {
    const caller = callerOf(ctx);
    const stepOf = (rec: TaskRecord) => (inputRequestJson(rec) as { stepId?: string } | undefined)?.stepId ?? '';
    const { rec, access } = await visible(message.taskId, ctx).catch(async (err: unknown) => {
      const unseen = await store.tasks.find(message.taskId);
      if (unseen) await runtime.refuseUnseen(unseen, stepOf(unseen), message, caller);
      throw err;
    });
    if (message.contextId && message.contextId !== rec.contextId)
      throw a2aError('INVALID_PARAMS', `message.context_id: task ${rec.id} belongs to another context`);
    if (access === 'audit') {
      await runtime.refuseAnswer(rec, stepOf(rec), caller, Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
      throw new MeshError(Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
    }
    if (rec.state !== TaskState.TASK_STATE_INPUT_REQUIRED)
      throw a2aError(
        'UNSUPPORTED_OPERATION',
        `task ${rec.id} is ${TaskState[rec.state]}: only a task waiting for input accepts a message`,
      );
    // Who may answer (the subject for a question, entitled others for an approval) is the runtime's decision, audited there.
    return runtime.provideInput(rec.id, stepOf(rec), message, 0, caller);
  }

  return {
    async sendMessage(req, ctx) {
      checkVersion(ctx);
      try {
        const rec = await accept(req, ctx);
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
      let rec: TaskRecord;
      let after: number;
      try {
        const before = req.message?.taskId ? await store.events.list(req.message.taskId, {}) : [];
        rec = await accept(req, ctx);
        after = before.at(-1)?.sequence ?? 0;
      } catch (err) {
        throw toA2aError(err);
      }
      // The task first (spec: a stream starts with the Task), then its events until it ends or waits again.
      yield { payload: { $case: 'task', value: toA2aTask(toTask(rec)) } } satisfies StreamResponse;
      yield* a2aEvents(runtime.events(rec.id, after, ctx.signal, true));
    },
    async getTask(req, ctx) {
      checkVersion(ctx);
      checkTenant(req.tenant);
      try {
        const { rec } = await visible(req.id, ctx);
        runtime.remember(rec, callerOf(ctx));
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
      runtime.remember(rec, callerOf(ctx));
      const last = (await store.events.list(rec.id, {})).at(-1)?.sequence ?? 0;
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
