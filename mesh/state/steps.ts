import type { Kysely, Selectable } from 'kysely';
import { StepState } from '../../gen/agentmesh/v1/plan.js';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, type JsonValue, type StoreContext } from './context.js';
import { LIVE_STATES, TERMINAL_STATES } from './task-states.js';
import type { TaskRecord } from './task-records.js';
import type { Tasks } from './tasks.js';
import { recordStepStatement } from './postgres-writes.js';
import { prepared } from './prepared.js';
import type { Database, StepTransitionsTable } from './tables.js';

/** One persisted transition of a plan step. */
export interface StepTransition {
  taskId: string;
  /** Per task, starting at 1, without gaps. */
  sequence: number;
  stepId: string;
  state: StepState;
  attempt: number;
  /** What the executor needs to resume: output, idempotency key, child task... */
  detail: JsonValue | undefined;
  principal: string;
  at: Date;
}

/** A task to resume after a restart, with where it got to. */
export interface UnfinishedTask {
  task: TaskRecord;
  /** The step that most recently succeeded (or was skipped); undefined when none has. */
  lastCompletedStep: StepTransition | undefined;
  /** The latest transition of every step that has one, ordered by when it was recorded. */
  steps: StepTransition[];
}

// Both run for every step transition: prepared once (see prepared).
const bumpStepSeq = prepared((trx: Kysely<Database>, _: undefined, taskId: string) =>
  trx
    .updateTable('tasks')
    .set((eb) => ({ step_seq: eb('step_seq', '+', 1) }))
    .where('id', '=', taskId)
    .where('state', 'not in', TERMINAL_STATES)
    .returning('step_seq'),
);
const insertTransition = prepared(
  (
    trx: Kysely<Database>,
    _: undefined,
    taskId: string,
    sequence: number,
    stepId: string,
    state: StepState,
    attempt: number,
    detail: string | null,
    principal: string,
    at: string,
  ) =>
    trx
      .insertInto('step_transitions')
      .values({ task_id: taskId, sequence, step_id: stepId, state, attempt, detail, principal, at })
      .returningAll(),
);

const COMPLETED: readonly StepState[] = [StepState.STEP_STATE_SUCCEEDED, StepState.STEP_STATE_SKIPPED];

/**
 * The write-ahead log of plan steps: the executor records a transition and only then acts
 * on it, so after a crash the log says which steps finished and which were in flight.
 */
export class StepLog {
  constructor(
    private readonly ctx: StoreContext,
    private readonly tasks: Tasks,
  ) {}

  /** Persists a step transition (durable when this resolves); FAILED_PRECONDITION on a finished task. */
  async record(
    taskId: string,
    input: { stepId: string; state: StepState; principal: string; attempt?: number; detail?: unknown },
  ): Promise<StepTransition> {
    requireText(taskId, 'task id');
    requireText(input.stepId, 'step id');
    requireText(input.principal, 'principal');
    const detail = input.detail === undefined ? null : encodeJson(input.detail, 'step detail');
    const attempt = input.attempt ?? 1;
    const at = this.ctx.now();
    if (this.ctx.kind === 'postgres') {
      const step = {
        taskId,
        stepId: input.stepId,
        state: input.state,
        attempt,
        detail,
        principal: input.principal,
        at,
      };
      const row = await this.ctx.read(() => recordStepStatement(this.ctx, step, TERMINAL_STATES));
      if (row === undefined) throw await this.whyNot(taskId);
      return this.toTransition(row);
    }
    const row = await this.ctx.write(async (trx) => {
      // Bumping the counter under the row lock orders parallel steps of one task.
      const [bumped] = (await bumpStepSeq(trx, undefined, taskId)).rows;
      if (bumped === undefined) throw await this.whyNot(taskId, trx);
      const [inserted] = (
        await insertTransition(
          trx,
          undefined,
          taskId,
          bumped.step_seq,
          input.stepId,
          input.state,
          attempt,
          detail,
          input.principal,
          at,
        )
      ).rows;
      return inserted!;
    });
    return this.toTransition(row);
  }

  // Why a step could not be recorded: no such task, or a finished one.
  private async whyNot(taskId: string, db?: Kysely<Database>): Promise<MeshError> {
    const task = await this.ctx.read((d) =>
      (db ?? d).selectFrom('tasks').select('id').where('id', '=', taskId).executeTakeFirst(),
    );
    if (task === undefined) return new MeshError(Code.NOT_FOUND, `task ${taskId} not found`);
    return new MeshError(Code.FAILED_PRECONDITION, `task ${taskId} is finished; its steps cannot change`);
  }

  /** Every transition of a task, in the order they were recorded. */
  async list(taskId: string): Promise<StepTransition[]> {
    const rows = await this.ctx.read((db) =>
      db.selectFrom('step_transitions').selectAll().where('task_id', '=', taskId).orderBy('sequence').execute(),
    );
    return rows.map((r) => this.toTransition(r));
  }

  /** The tasks not yet in a terminal state, with their steps' progress: what to resume on startup. */
  async unfinished(): Promise<UnfinishedTask[]> {
    const live = await this.tasks.list({ states: LIVE_STATES });
    if (live.length === 0) return [];
    const rows = await this.ctx.read((db) =>
      db
        .selectFrom('step_transitions')
        .selectAll()
        .where('task_id', 'in', (eb) => eb.selectFrom('tasks').select('id').where('state', 'in', LIVE_STATES))
        .orderBy('task_id')
        .orderBy('sequence')
        .execute(),
    );
    const byTask = new Map<string, StepTransition[]>();
    for (const row of rows) {
      const list = byTask.get(row.task_id) ?? [];
      list.push(this.toTransition(row));
      byTask.set(row.task_id, list);
    }
    return live.map((task) => summarise(task, byTask.get(task.id) ?? []));
  }

  private toTransition(r: Selectable<StepTransitionsTable>): StepTransition {
    const { json, time } = this.ctx.codec;
    return {
      taskId: r.task_id,
      sequence: r.sequence,
      stepId: r.step_id,
      state: r.state as StepState,
      attempt: r.attempt,
      detail: r.detail === null ? undefined : json(r.detail),
      principal: r.principal,
      at: time(r.at),
    };
  }
}

function summarise(task: TaskRecord, transitions: StepTransition[]): UnfinishedTask {
  const latest = new Map<string, StepTransition>();
  let lastCompletedStep: StepTransition | undefined;
  for (const t of transitions) {
    latest.delete(t.stepId);
    latest.set(t.stepId, t);
    if (COMPLETED.includes(t.state)) lastCompletedStep = t;
  }
  return { task, lastCompletedStep, steps: [...latest.values()] };
}
