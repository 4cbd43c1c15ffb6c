import type { AgentServiceService, StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import type { ChildExplanation, Explanation } from '../../gen/agentmesh/v1/explain.js';
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
import { toTask } from './task-codec.js';

const callerOf = (ctx: CallContext): Principal => {
  if (!ctx.principal) throw new MeshError(Code.UNAUTHENTICATED, 'no verified caller');
  return ctx.principal;
};

/** Only the subject a task runs for (or the agent itself) may see or steer it. */
async function ownTask(store: Store, taskId: string, caller: Principal) {
  if (!taskId) throw new MeshError(Code.INVALID_ARGUMENT, 'task_id: required');
  const rec = await store.tasks.find(taskId);
  const subject = (rec?.data as { subject?: string } | undefined)?.subject;
  // The same NOT_FOUND for "absent" and "not yours": task ids are not to be probed.
  if (!rec || subject !== caller.subject) throw new MeshError(Code.NOT_FOUND, `task ${taskId} not found`);
  return rec;
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
export type ExplainChild = (child: TaskRef, maxDepth: number, ctx: CallContext) => Promise<Explanation>;

const DEFAULT_DEPTH = 4;
const MAX_DEPTH = 16;

/** The explanations of the child tasks an explanation's steps created; a collaborator that refuses yields a marked gap. */
async function childrenOf(
  explanation: Explanation,
  depth: number,
  ctx: CallContext,
  explainChild: ExplainChild,
): Promise<ChildExplanation[]> {
  const refs = explanation.execution.flatMap((e) => {
    const ref = e.attempts.findLast((a) => a.childTask)?.childTask;
    return ref ? [{ stepId: e.stepId, ref }] : [];
  });
  return Promise.all(
    refs.map(async ({ stepId, ref }): Promise<ChildExplanation> => {
      try {
        return {
          stepId,
          task: ref,
          result: { $case: 'explanation', explanation: await explainChild(ref, depth - 1, ctx) },
        };
      } catch (err) {
        const e = MeshError.from(err);
        return { stepId, task: ref, result: { $case: 'gap', gap: { code: codeName(e.code), reason: e.message } } };
      }
    }),
  );
}

/** AgentService over an agent runtime; `explainChild` makes ExplainTask recursive. */
export function agentService(
  card: AgentCard,
  runtime: AgentRuntime,
  store: Store,
  explainChild?: ExplainChild,
): ServiceImplementation<typeof AgentServiceService> {
  return {
    async sendTask(req, ctx) {
      const rec = await runtime.send(req, callerOf(ctx));
      ctx.taskId = rec.id;
      const settled = req.configuration?.blocking ? await runtime.settled(rec.id, ctx.signal) : rec;
      return { task: toTask(settled, req.configuration?.historyLength ?? 0) };
    },
    async *streamTask(req, ctx) {
      const rec = await runtime.send({ ...req, configuration: undefined }, callerOf(ctx));
      ctx.taskId = rec.id;
      // The task as it is first, as SubscribeTask does: a client has its id before any event.
      yield snapshot(rec);
      yield* runtime.events(rec.id, 0, ctx.signal, true);
    },
    async getTask(req, ctx) {
      const rec = await ownTask(store, req.taskId, callerOf(ctx));
      runtime.remember(rec, callerOf(ctx));
      return { task: toTask(rec, req.historyLength) };
    },
    async *subscribeTask(req, ctx) {
      const rec = await ownTask(store, req.taskId, callerOf(ctx));
      if (req.afterSequence < 0) throw new MeshError(Code.INVALID_ARGUMENT, 'after_sequence: must not be negative');
      runtime.remember(rec, callerOf(ctx));
      if (req.afterSequence === 0) yield snapshot(rec);
      yield* runtime.events(rec.id, req.afterSequence, ctx.signal);
    },
    async cancelTask(req, ctx) {
      await ownTask(store, req.taskId, callerOf(ctx));
      return { task: toTask(await runtime.cancel(req.taskId, req.reason, callerOf(ctx))) };
    },
    async provideInput(req, ctx) {
      // Who may answer (the subject a question, the approvers an approval) is the runtime's to decide.
      if (!req.taskId) throw new MeshError(Code.INVALID_ARGUMENT, 'task_id: required');
      if (!(await store.tasks.find(req.taskId))) throw new MeshError(Code.NOT_FOUND, `task ${req.taskId} not found`);
      return {
        task: toTask(
          await runtime.provideInput(req.taskId, req.stepId, req.message, req.expectedVersion, callerOf(ctx)),
        ),
      };
    },
    async explainTask(req, ctx) {
      await ownTask(store, req.taskId, callerOf(ctx));
      if (req.maxDepth > MAX_DEPTH) throw new MeshError(Code.INVALID_ARGUMENT, `max_depth: at most ${MAX_DEPTH}`);
      const depth = req.maxDepth || DEFAULT_DEPTH;
      const explanation = await explainTask(store, req.taskId);
      if (depth > 1 && explainChild) explanation.children = await childrenOf(explanation, depth, ctx, explainChild);
      return { explanation };
    },
    async listTasks() {
      throw new MeshError(Code.UNIMPLEMENTED, 'ListTasks: not yet');
    },
    async getAgentCard() {
      return { card };
    },
  };
}
