import type { AgentServiceService, StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import type { ChildExplanation, Explanation, StepAttempt } from '../../gen/agentmesh/v1/explain.js';
import type { TaskRef } from '../../gen/agentmesh/v1/task.js';
import {
  Code,
  codeName,
  MeshError,
  type CallContext,
  type Principal,
  type ServiceImplementation,
} from '../core/index.js';
import type { Store, TaskRecord } from '../state/index.js';
import type { AgentRuntime } from './agent-runtime.js';
import { explainTask } from './explain.js';
import { listTasks } from './list-tasks.js';
import {
  AUDITORS_CHANGE_NOTHING,
  DEFAULT_AUDITOR_ROLES,
  isAuditor,
  taskAccess,
  type TaskAccess,
} from './task-access.js';
import { toTask } from './task-codec.js';

/** The verified caller of a call (the security interceptor set it). */
export const callerOf = (ctx: CallContext): Principal => {
  if (!ctx.principal) throw new MeshError(Code.UNAUTHENTICATED, 'no verified caller');
  return ctx.principal;
};

/**
 * The task and what the caller may do with it. The same NOT_FOUND for "absent" and "not
 * visible to you": task ids are not to be probed.
 */
export async function visibleTask(
  store: Store,
  taskId: string,
  caller: Principal,
  auditorRoles: readonly string[],
): Promise<{ rec: TaskRecord; access: Exclude<TaskAccess, 'none'> }> {
  if (!taskId) throw new MeshError(Code.INVALID_ARGUMENT, 'task_id: required');
  const rec = await store.tasks.find(taskId);
  const access = rec ? taskAccess(rec, caller, auditorRoles) : 'none';
  if (!rec || access === 'none') throw new MeshError(Code.NOT_FOUND, `task ${taskId} not found`);
  return { rec, access };
}

/** Refuses any change by an auditor (segregation of duties), whatever the task. */
export function refuseAuditor(caller: Principal, auditorRoles: readonly string[]): void {
  if (isAuditor(caller, auditorRoles)) throw new MeshError(Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
}

/** The current task as the first event of a stream (sequence 0). */
const snapshot = (rec: TaskRecord): StreamTaskResponse => ({
  event: {
    taskId: rec.id,
    contextId: rec.contextId,
    sequence: 0,
    timestamp: new Date(),
    event: { $case: 'task', task: toTask(rec) },
  },
});

/** Fetches a child task's explanation from its agent with the caller's authority (the incoming call's token, exchanged). */
export type ExplainChild = (
  child: TaskRef,
  maxDepth: number,
  ctx: CallContext,
  /** What the step recorded of it: the last attempt that named the child task, and its step. */
  recorded: { stepId: string; attempt: StepAttempt },
) => Promise<Explanation>;

const DEFAULT_DEPTH = 4;
const MAX_DEPTH = 16;

/** The child tasks an explanation's steps created, by step. */
const childRefs = (explanation: Explanation) =>
  explanation.execution.flatMap((e) => {
    const attempt = e.attempts.findLast((a) => a.childTask);
    return attempt?.childTask ? [{ stepId: e.stepId, ref: attempt.childTask, attempt }] : [];
  });

/** An approver reads the task they answer, not its children: each child is a gap that says who may read it. */
const childrenHidden = (explanation: Explanation): ChildExplanation[] =>
  childRefs(explanation).map(({ stepId, ref }) => ({
    stepId,
    task: ref,
    result: {
      $case: 'gap',
      gap: {
        code: codeName(Code.PERMISSION_DENIED),
        reason: "child tasks are visible to the task's subject and auditors",
      },
    },
  }));

/** The explanations of the child tasks an explanation's steps created; a collaborator that refuses yields a marked gap. */
async function childrenOf(
  explanation: Explanation,
  depth: number,
  ctx: CallContext,
  explainChild: ExplainChild,
): Promise<ChildExplanation[]> {
  const refs = childRefs(explanation);
  return Promise.all(
    refs.map(async ({ stepId, ref, attempt }): Promise<ChildExplanation> => {
      try {
        return {
          stepId,
          task: ref,
          result: { $case: 'explanation', explanation: await explainChild(ref, depth - 1, ctx, { stepId, attempt }) },
        };
      } catch (err) {
        const e = MeshError.from(err);
        return { stepId, task: ref, result: { $case: 'gap', gap: { code: codeName(e.code), reason: e.message } } };
      }
    }),
  );
}

/**
 * AgentService over an agent runtime; `explainChild` makes ExplainTask
 * recursive. Who sees and steers which task follows task-access.ts; callers
 * holding one of `auditorRoles` read everything and change nothing.
 */
export function agentService(
  card: AgentCard,
  runtime: AgentRuntime,
  store: Store,
  explainChild?: ExplainChild,
  auditorRoles: readonly string[] = DEFAULT_AUDITOR_ROLES,
): ServiceImplementation<typeof AgentServiceService> {
  const visible = (taskId: string, ctx: CallContext) => {
    // Set before any check, so even a refusal's call audit record names the task.
    ctx.taskId = taskId || undefined;
    return visibleTask(store, taskId, callerOf(ctx), auditorRoles);
  };
  return {
    async sendTask(req, ctx) {
      refuseAuditor(callerOf(ctx), auditorRoles);
      const rec = await runtime.send(req, callerOf(ctx));
      ctx.taskId = rec.id;
      const settled = req.configuration?.blocking ? await runtime.settled(rec.id, ctx.signal) : rec;
      return { task: toTask(settled, req.configuration?.historyLength ?? 0) };
    },
    async *streamTask(req, ctx) {
      refuseAuditor(callerOf(ctx), auditorRoles);
      const rec = await runtime.send({ ...req, configuration: undefined }, callerOf(ctx));
      ctx.taskId = rec.id;
      // The task as it is first, as SubscribeTask does: a client has its id before any event.
      yield snapshot(rec);
      yield* runtime.events(rec.id, 0, ctx.signal, true);
    },
    async getTask(req, ctx) {
      const { rec } = await visible(req.taskId, ctx);
      if (runtime.remember(rec, callerOf(ctx))) ctx.changedState = true;
      return { task: toTask(rec, req.historyLength) };
    },
    async *subscribeTask(req, ctx) {
      const { rec } = await visible(req.taskId, ctx);
      if (req.afterSequence < 0) throw new MeshError(Code.INVALID_ARGUMENT, 'after_sequence: must not be negative');
      if (runtime.remember(rec, callerOf(ctx))) ctx.changedState = true;
      if (req.afterSequence === 0) yield snapshot(rec);
      yield* runtime.events(rec.id, req.afterSequence, ctx.signal);
    },
    async cancelTask(req, ctx) {
      const { access } = await visible(req.taskId, ctx);
      if (access === 'audit') throw new MeshError(Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
      if (access !== 'steer')
        throw new MeshError(Code.PERMISSION_DENIED, `only the subject of task ${req.taskId} may cancel it`);
      return { task: toTask(await runtime.cancel(req.taskId, req.reason, callerOf(ctx))) };
    },
    async provideInput(req, ctx) {
      const { rec, access } = await visible(req.taskId, ctx).catch(async (err: unknown) => {
        // An answer to a task the caller may not see is still on the record, with the reason it would get.
        const rec = req.taskId ? await store.tasks.find(req.taskId) : undefined;
        if (rec) await runtime.refuseUnseen(rec, req.stepId, req.message, callerOf(ctx));
        throw err;
      });
      if (access === 'audit') {
        await runtime.refuseAnswer(rec, req.stepId, callerOf(ctx), Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
        throw new MeshError(Code.PERMISSION_DENIED, AUDITORS_CHANGE_NOTHING);
      }
      // Whether this caller may give this answer (question or approval, segregation of duties,
      // N approvals, deadline) is the runtime's decision, audited there.
      return {
        task: toTask(
          await runtime.provideInput(req.taskId, req.stepId, req.message, req.expectedVersion, callerOf(ctx)),
        ),
      };
    },
    async explainTask(req, ctx) {
      const { access } = await visible(req.taskId, ctx);
      if (req.maxDepth > MAX_DEPTH) throw new MeshError(Code.INVALID_ARGUMENT, `max_depth: at most ${MAX_DEPTH}`);
      const depth = req.maxDepth || DEFAULT_DEPTH;
      const explanation = await explainTask(store, req.taskId);
      // The subject and auditors follow the children (their token, exchanged, carries who they
      // are down the chain); an approver reads this task only.
      const recursive = access === 'steer' || access === 'audit';
      if (!recursive) explanation.children = childrenHidden(explanation);
      else if (depth > 1 && explainChild)
        explanation.children = await childrenOf(explanation, depth, ctx, explainChild);
      return { explanation };
    },
    async listTasks(req, ctx) {
      return listTasks(store, req, callerOf(ctx), auditorRoles);
    },
    async getAgentCard() {
      return { card };
    },
  };
}
