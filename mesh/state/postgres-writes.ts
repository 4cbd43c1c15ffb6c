import type { Kysely, Selectable } from 'kysely';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import type { StoreContext } from './context.js';
import { TASK_COLUMNS } from './postgres-transition.js';
import type { Database, StepTransitionsTable, TasksTable } from './tables.js';
import { TASK_CHANNEL } from './task-channel.js';

// A task's creation, an event appended to its log and a step recorded are each one statement on
// PostgreSQL (data-modifying CTEs), so one round trip: they were a transaction of three to seven
// (BEGIN, the counter's UPDATE, each INSERT, the NOTIFY, COMMIT), a pool checkout and a parse each.
// Outside a transaction the statement is prepared under its name (parsed and planned once per
// connection, see StoreContext.statement); inside `atomically` it is one statement of the open
// transaction. Result columns are named, never `*` (see TASK_COLUMNS).

const NOW = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** A new task, checked and encoded, for createTaskStatement. */
export interface NewTaskRow {
  id: string;
  contextId: string;
  principal: string;
  at: string;
  /** JSON text. */
  data: string;
  /** JSON texts, sequences 1…n. */
  events: readonly string[];
  requestId: string | undefined;
  lease: { owner: string; ttlMs: number } | undefined;
}

// The request claim, the task, its first version, its events and the NOTIFY. With a request id,
// the task is written only if this statement claimed it: a concurrent duplicate waits on the
// claim's key until the first commits, then writes nothing and the caller reads the winner's task.
// A task id already taken fails the statement (unique violation), claim included.
const CREATE_SQL = `
with r as (
  insert into task_requests (principal, request_id, task_id, at)
  select $3, $8::text, $1, $4::timestamptz where $8::text is not null
  on conflict do nothing
  returning task_id
), t as (
  insert into tasks (id, context_id, state, version, data, event_seq, step_seq, created_at, created_by,
    updated_at, updated_by, owner, fencing, lease_until)
  select $1, $2, ${TaskState.TASK_STATE_SUBMITTED}, 1, $5::jsonb, cardinality($6::jsonb[]), 0, $4::timestamptz, $3,
    $4::timestamptz, $3, $7::text, case when $7::text is null then 0 else 1 end,
    case when $7::text is null then null else ${NOW} + $9::bigint end
  where $8::text is null or exists (select 1 from r)
  returning ${TASK_COLUMNS.join(', ')}
), v as (
  insert into task_versions (task_id, version, state, data, reason, principal, at)
  select id, version, state, data, null, updated_by, updated_at from t
), e as (
  insert into task_events (task_id, sequence, event, principal, at)
  select t.id, ev.ord, ev.event, t.created_by, t.created_at
  from t cross join unnest($6::jsonb[]) with ordinality as ev(event, ord)
)
select ${TASK_COLUMNS.join(', ')}, pg_notify($10, $11) from t`;

/**
 * Creates the task in one statement; undefined when `requestId` was already claimed (the
 * caller reads the task of that request). A task id already taken throws a unique violation.
 */
export async function createTaskStatement(
  ctx: StoreContext,
  db: Kysely<Database>,
  task: NewTaskRow,
): Promise<Selectable<TasksTable> | undefined> {
  const { notices } = ctx;
  const ttl = task.lease === undefined ? null : Math.max(1, Math.round(task.lease.ttlMs));
  const values = [
    task.id,
    task.contextId,
    task.principal,
    task.at,
    task.data,
    task.events,
    task.lease?.owner ?? null,
    task.requestId ?? null,
    ttl,
    notices.wire(TASK_CHANNEL),
    notices.encode(task.id),
  ];
  const [row] = await ctx.statement<Selectable<TasksTable>>('agentmesh_task_create_v1', CREATE_SQL, values);
  if (row) ctx.afterCommit(TASK_CHANNEL, task.id, db);
  return row;
}

const APPEND_SQL = `
with b as (
  update tasks set event_seq = event_seq + 1 where id = $1 returning id, event_seq
), e as (
  insert into task_events (task_id, sequence, event, principal, at)
  select id, event_seq, $2::jsonb, $3, $4::timestamptz from b
)
select event_seq, pg_notify($5, $6) from b`;

/**
 * Appends one event in one statement (the sequence reserved under the task's row lock, the
 * event, the NOTIFY); its sequence, or undefined when there is no such task.
 */
export async function appendEventStatement(
  ctx: StoreContext,
  db: Kysely<Database>,
  taskId: string,
  event: string,
  principal: string,
  at: string,
): Promise<number | undefined> {
  const { notices } = ctx;
  const values = [taskId, event, principal, at, notices.wire(TASK_CHANNEL), notices.encode(taskId)];
  const [row] = await ctx.statement<{ event_seq: number }>('agentmesh_task_event_v1', APPEND_SQL, values);
  if (row === undefined) return undefined;
  ctx.afterCommit(TASK_CHANNEL, taskId, db);
  return row.event_seq;
}

/** A step transition, checked and encoded, for recordStepStatement. */
export interface StepRow {
  taskId: string;
  stepId: string;
  state: number;
  attempt: number;
  /** JSON text or null. */
  detail: string | null;
  principal: string;
  at: string;
}

const RECORD_SQL = `
with b as (
  update tasks set step_seq = step_seq + 1 where id = $1 and not (state = any($2::int[])) returning id, step_seq
)
insert into step_transitions (task_id, sequence, step_id, state, attempt, detail, principal, at)
select id, step_seq, $3, $4, $5, $6::jsonb, $7, $8::timestamptz from b
returning task_id, sequence, step_id, state, attempt, detail, principal, at`;

/**
 * Records a step transition in one statement (the sequence reserved under the task's row
 * lock, then the row); undefined when the task is missing or in one of `finished`.
 */
export async function recordStepStatement(
  ctx: StoreContext,
  step: StepRow,
  finished: readonly number[],
): Promise<Selectable<StepTransitionsTable> | undefined> {
  const values = [step.taskId, finished, step.stepId, step.state, step.attempt, step.detail, step.principal, step.at];
  const [row] = await ctx.statement<Selectable<StepTransitionsTable>>('agentmesh_step_record_v1', RECORD_SQL, values);
  return row;
}
