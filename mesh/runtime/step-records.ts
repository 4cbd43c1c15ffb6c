import { CollaboratorChoice, StepExecution, Substitution } from '../../gen/agentmesh/v1/explain.js';
import { StepState, type TaskPlan } from '../../gen/agentmesh/v1/plan.js';
import type { JsonValue, Store, TaskLease } from '../state/index.js';
import type { MeshMetrics } from '../telemetry/index.js';
import type { ExecutionHooks } from './executor.js';
import { PendingSubstitutions } from './pending-substitutions.js';
import type { Run, TaskOwnership } from './task-ownership.js';

/** What a run's step records are written with. */
export interface StepRecordsOptions {
  store: Store;
  ownership: TaskOwnership;
  metrics?: MeshMetrics;
  /** The agent, as the principal of the records. */
  principal: string;
  /** Tells the task's followers in this process that it changed. */
  changed(taskId: string): void;
}

/** The executor's hooks of one run, and what they still hold when the run ends. */
export interface StepRecords {
  hooks: ExecutionHooks;
  /** Writes the substitution logs still held (a human step's prompt: substituted, never started). */
  flushHeld(): Promise<void>;
}

/**
 * Records the steps of one run of a task as the executor reports them, each
 * write fenced by the run's lease (only the lease holder writes) and durable
 * before the step is acted on: its RUNNING transitions, its end with its
 * execution, choice and substitution records, and the events streams serve.
 */
export function recordSteps(
  o: StepRecordsOptions,
  taskId: string,
  run: Run,
  lease: TaskLease,
  plan: TaskPlan,
): StepRecords {
  const substitutions = new PendingSubstitutions();
  // A RUNNING transition of a step's attempt (fenced: only the lease holder writes), with its event
  // and its substitution log when it starts.
  const running = async (stepId: string, attempt: number, detail: JsonValue, started: boolean) => {
    await o.ownership.fenced(taskId, run, () =>
      o.store.atomically(async (tx) => {
        await tx.tasks.fence(taskId, lease);
        if (started) await substitutions.flush(tx, stepId);
        await tx.steps.record(taskId, {
          stepId,
          state: StepState.STEP_STATE_RUNNING,
          attempt,
          principal: o.principal,
          detail,
        });
        if (started) await tx.events.append(taskId, { stepStarted: { stepId, attempt } }, o.principal);
      }),
    );
    // Committed: the log is durable (a rolled-back start keeps it held for the retry's start).
    if (started) substitutions.forget(stepId);
  };
  const hooks: ExecutionHooks = {
    stepStarted: async (stepId, attempt, idempotencyKey) => {
      await running(stepId, attempt, { idempotencyKey }, true);
      o.changed(taskId);
    },
    // A second RUNNING transition of the same attempt: after a crash, executionStateOf sees the request went out.
    requestSending: (stepId, attempt, idempotencyKey) =>
      running(stepId, attempt, { idempotencyKey, requestSent: true }, false),
    stepFinished: async (e, choice) => {
      // One transaction: after a crash a step is either finished with all its records, or to be resumed.
      await o.ownership.fenced(taskId, run, () =>
        o.store.atomically(async (tx) => {
          await tx.tasks.fence(taskId, lease);
          await substitutions.flush(tx, e.stepId);
          if (choice)
            await tx.records.put({
              id: `${taskId}:choice:${e.stepId}`,
              taskId,
              kind: 'choice',
              record: CollaboratorChoice.toJSON(choice),
              principal: o.principal,
            });
          await tx.records.put({
            id: `${taskId}:step:${e.stepId}`,
            taskId,
            kind: 'step',
            record: StepExecution.toJSON(e),
            principal: o.principal,
          });
          await tx.steps.record(taskId, {
            stepId: e.stepId,
            state: e.state,
            attempt: e.attempts.length,
            principal: o.principal,
          });
          await tx.events.append(
            taskId,
            { stepFinished: { stepId: e.stepId, state: e.state, reason: e.reason } },
            o.principal,
          );
        }),
      );
      substitutions.forget(e.stepId);
      o.changed(taskId);
      const kind = plan.steps.find((s) => s.id === e.stepId)?.target?.$case ?? 'none';
      o.metrics?.planSteps.inc({ kind, outcome: StepState[e.state].replace('STEP_STATE_', '').toLowerCase() });
    },
    // Held until the step's next write (its start, else its end): see PendingSubstitutions.
    substituted: async (log) => {
      if (!log.length) return;
      // Arguments and a prompt of the same step are separate records.
      const stepId = log[0]!.stepId;
      substitutions.add(stepId, {
        id: `${taskId}:substitution:${stepId}${log[0]!.path === '#prompt' ? '#prompt' : ''}`,
        taskId,
        kind: 'substitution',
        record: log.map((s) => Substitution.toJSON(s)),
        principal: o.principal,
      });
    },
  };
  return {
    hooks,
    async flushHeld() {
      if (!substitutions.empty) {
        await o.ownership.fenced(taskId, run, () =>
          o.store.atomically(async (tx) => {
            await tx.tasks.fence(taskId, lease);
            await substitutions.flush(tx);
          }),
        );
        substitutions.forget();
      }
    },
  };
}
