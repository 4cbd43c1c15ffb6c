import { propagation, ROOT_CONTEXT, SpanStatusCode } from '@opentelemetry/api';
import { InputRequest, TaskState } from '../../gen/agentmesh/v1/task.js';
import { isTerminal, leaseLost, type TaskRecord } from '../state/index.js';
import { meshTracer } from '../telemetry/index.js';
import type { AnswerDeadlines } from './answer-deadlines.js';
import type { CallerAuthority } from './caller-authority.js';
import { execute, type StepRunner } from './executor.js';
import { executionStateOf } from './execution-state.js';
import type { CircuitBreaker } from './retry.js';
import { recordSteps, type StepRecordsOptions } from './step-records.js';
import { WAITING, type TaskChanges } from './task-changes.js';
import { statusEvent, type TaskData } from './task-codec.js';
import type { Run } from './task-ownership.js';
import { TaskPlanning, type TaskPlanningOptions } from './task-planning.js';

/** What TaskRunner works with: the agent's planner and step runner, and the runtime's writers. */
export interface TaskRunnerOptions extends TaskPlanningOptions, StepRecordsOptions {
  runner: StepRunner;
  changes: TaskChanges;
  deadlines: AnswerDeadlines;
  leaseMs: number;
  /** The caller's tokens: dropped once a task ends. */
  authority: CallerAuthority;
}

/** Carries out runs of tasks: each one from its lease to the change that ends it or makes it wait. */
export class TaskRunner {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly planning: TaskPlanning;

  constructor(private readonly o: TaskRunnerOptions) {
    this.planning = new TaskPlanning(o);
  }

  private get name(): string {
    return this.o.card.name;
  }

  /** Runs (or resumes) a task under a span in the trace of the request that created it. */
  async traced(taskId: string, run: Run): Promise<void> {
    const rec = await this.o.store.tasks.get(taskId);
    const d = rec.data as unknown as TaskData;
    const parent = propagation.extract(ROOT_CONTEXT, d.traceContext ?? {});
    const attributes = { 'agentmesh.task.id': taskId, 'agentmesh.agent': this.name, 'agentmesh.skill': d.skillId };
    await meshTracer().startActiveSpan(`task ${this.name}/${d.skillId}`, { attributes }, parent, async (span) => {
      try {
        await this.process(taskId, run);
        const state = (await this.o.store.tasks.get(taskId)).state;
        span.setAttribute('agentmesh.task.state', TaskState[state]);
        if (state === TaskState.TASK_STATE_FAILED)
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'task failed' });
        if (isTerminal(state)) this.o.authority.forget(taskId);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /**
   * One run of a task: takes the lease when it has none yet, moves the task to
   * WORKING, plans it (or reads its plan), executes the plan from where earlier
   * runs left it, and writes how the run ended.
   */
  async process(taskId: string, run: Run): Promise<void> {
    const { signal } = run.controller;
    if (!run.lease) {
      // Woken here (the caller's token came back): the run takes the lease first, unless another replica holds it.
      const got = await this.o.store.tasks.acquire(taskId, this.o.ownership.replicaId, this.o.leaseMs);
      if (!got) return;
      run.lease = this.o.ownership.lease(got.fencing);
      if (got.previousOwner && got.previousOwner !== this.o.ownership.replicaId) this.o.ownership.tookOver(taskId, got);
    }
    const lease = run.lease;
    let rec = await this.o.store.tasks.get(taskId);
    // Started from a stale read (a call that woke it as it ended), or no longer ours: nothing to do.
    if (isTerminal(rec.state) || rec.state === TaskState.TASK_STATE_INPUT_REQUIRED) return;
    if (rec.owner !== lease.owner || rec.fencing !== lease.fencing) throw leaseLost(taskId, lease.fencing);
    const d = rec.data as unknown as TaskData;
    if (rec.state === TaskState.TASK_STATE_SUBMITTED || WAITING.has(rec.state))
      rec = await this.o.changes.working(rec, undefined, undefined, { run });
    else if (run.freshBudget)
      rec = await this.o.changes.working(rec, 'resumed: the release that was running it has stopped', undefined, {
        run,
      });
    const plan = await this.planning.planFor(rec, d, run, lease);
    if (!plan) return;
    const records = recordSteps(this.o, taskId, run, lease, plan);
    const outcome = await execute(plan, {
      taskId,
      input: d.input,
      runner: this.o.runner,
      signal,
      breakers: this.breakers,
      state: await executionStateOf(this.o.store, taskId),
      deadline: (rec.data as unknown as TaskData).runDeadline,
      hooks: records.hooks,
    });
    // A human step's prompt: substituted, never started; written before the task asks for input.
    await records.flushHeld();
    rec = await this.o.store.tasks.get(taskId);
    if (outcome.status === 'completed') {
      const resultStep = plan.resultStepId || plan.steps.at(-1)!.id;
      const artifact = { artifactId: 'result', name: 'result', parts: [{ data: outcome.outputs[resultStep] ?? null }] };
      await this.o.changes.change(
        rec,
        TaskState.TASK_STATE_COMPLETED,
        [{ artifactUpdate: { artifact } }, statusEvent(TaskState.TASK_STATE_COMPLETED, 'completed')],
        { artifacts: [artifact] },
        { run },
      );
    } else if (outcome.status === 'input_required') {
      const human = outcome.step.target?.$case === 'human' ? outcome.step.target.human : undefined;
      const within = human?.answerWithin;
      const now = await this.o.store.now();
      const inputRequest = InputRequest.fromPartial({
        stepId: outcome.step.id,
        prompt: outcome.prompt,
        inputSchema: human?.inputSchema,
        choices: human?.choices ?? [],
        approverRoles: human?.approverRoles ?? [],
        approverScopes: human?.approverScopes ?? [],
        requiredApprovals: human?.requiredApprovals ?? 0,
        allowSelfApproval: human?.allowSelfApproval ?? false,
        // The deadline runs from when the task starts waiting, by the database's clock: an answer after it fails the task.
        expiresAt: within ? new Date(now.getTime() + within.seconds * 1000 + Math.ceil(within.nanos / 1e6)) : undefined,
      });
      const waiting = await this.o.changes.change(
        rec,
        TaskState.TASK_STATE_INPUT_REQUIRED,
        [statusEvent(TaskState.TASK_STATE_INPUT_REQUIRED, outcome.prompt, inputRequest)],
        { askedOf: askedOf(rec, inputRequest) },
        { run },
      );
      this.o.deadlines.due(waiting, now);
    } else if (outcome.status === 'auth_required') {
      const why = `step ${outcome.stepId} acts for ${d.subject} and needs a current token of theirs (${outcome.reason}); any call of theirs on this task (GetTask, SubscribeTask) resumes it`;
      await this.o.changes.change(
        rec,
        TaskState.TASK_STATE_AUTH_REQUIRED,
        [statusEvent(TaskState.TASK_STATE_AUTH_REQUIRED, why)],
        undefined,
        { run },
      );
    } else {
      await this.o.changes.change(
        rec,
        TaskState.TASK_STATE_FAILED,
        [statusEvent(TaskState.TASK_STATE_FAILED, `step ${outcome.stepId} failed: ${outcome.reason}`)],
        undefined,
        { run },
      );
    }
  }
}

/** The approvers a task has been put to, this request's included (they keep reading the task: TaskData.askedOf). */
function askedOf(rec: TaskRecord, request: InputRequest): TaskData['askedOf'] {
  const was = (rec.data as unknown as TaskData).askedOf;
  const roles = [...new Set([...(was?.roles ?? []), ...request.approverRoles])];
  const scopes = [...new Set([...(was?.scopes ?? []), ...request.approverScopes])];
  return roles.length || scopes.length ? { roles, scopes } : undefined;
}
