import { PostgresAdapter, sql, type Expression, type Kysely } from 'kysely';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import type { Database } from './tables.js';
import { TERMINAL_STATES } from './task-states.js';

/**
 * A run's hold on a task: the replica that runs it, the fencing token it got
 * when it took the lease, and how long each write extends the lease.
 */
export interface TaskLease {
  owner: string;
  fencing: number;
  ttlMs: number;
}

/** States in which a task is run by whoever holds its lease, and is taken over when the lease lapses. */
export const LEASED_STATES: readonly TaskState[] = [TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING];

/** States a run may take a lease in: the leased ones, and a task waiting for its caller's token (woken by a call). */
export const ACQUIRABLE_STATES: readonly TaskState[] = [...LEASED_STATES, TaskState.TASK_STATE_AUTH_REQUIRED];

const LOST = /^lease of task \S+ lost/;

/** The error of a write whose run no longer holds the task's lease: the run must stop and write nothing more. */
export function leaseLost(taskId: string, fencing: number): MeshError {
  return new MeshError(
    Code.ABORTED,
    `lease of task ${taskId} lost (fencing token ${fencing}): another replica runs it, or it was canceled`,
  );
}

/** True for the error of leaseLost. */
export function isLeaseLost(err: unknown): boolean {
  return isMeshError(err) && err.code === Code.ABORTED && LOST.test(err.message);
}

/**
 * The database's clock in epoch milliseconds: a lease's expiry is compared by one clock only,
 * whatever the replicas' clocks say.
 */
export function databaseNowMs(db: Kysely<Database>): Expression<number> {
  return db.getExecutor().adapter instanceof PostgresAdapter
    ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : sql<number>`CAST(unixepoch('subsec') * 1000 AS INTEGER)`;
}

/** The expiry of a lease taken or renewed now. */
function until(db: Kysely<Database>, ttlMs: number): Expression<number> {
  return sql<number>`${databaseNowMs(db)} + ${Math.max(1, Math.round(ttlMs))}`;
}

/**
 * Checks, inside the caller's transaction, that the run still holds the task's lease
 * (same owner and fencing token, task not terminal) and extends it; the UPDATE also locks
 * the row until the transaction ends, so a takeover or a cancel waits for this write or
 * wins before it. Throws leaseLost otherwise.
 */
export async function fenceTask(trx: Kysely<Database>, taskId: string, lease: TaskLease): Promise<void> {
  const row = await trx
    .updateTable('tasks')
    .set({ lease_until: until(trx, lease.ttlMs) })
    .where('id', '=', taskId)
    .where('owner', '=', lease.owner)
    .where('fencing', '=', lease.fencing)
    .where('state', 'not in', TERMINAL_STATES)
    .returning('id')
    .executeTakeFirst();
  if (row === undefined) throw leaseLost(taskId, lease.fencing);
}

/**
 * Takes the task's lease when nobody holds it or its holder's lease has lapsed, and the
 * task is in one of `states`: one UPDATE, so of several replicas trying at once exactly one
 * wins. Returns the new fencing token and who held the lease before, or undefined.
 */
export async function acquireTask(
  trx: Kysely<Database>,
  taskId: string,
  owner: string,
  ttlMs: number,
  states: readonly TaskState[] = LEASED_STATES,
): Promise<{ fencing: number; previousOwner: string | undefined } | undefined> {
  // Who held it, for the takeover's log line only: the UPDATE below decides.
  const before = await trx.selectFrom('tasks').select('owner').where('id', '=', taskId).executeTakeFirst();
  const row = await trx
    .updateTable('tasks')
    .set((eb) => ({ owner, fencing: eb('fencing', '+', 1), lease_until: until(trx, ttlMs) }))
    .where('id', '=', taskId)
    .where('state', 'in', states)
    .where((eb) =>
      eb.or([eb('owner', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', databaseNowMs(trx))]),
    )
    .returning('fencing')
    .executeTakeFirst();
  return row === undefined ? undefined : { fencing: Number(row.fencing), previousOwner: before?.owner ?? undefined };
}

/**
 * Extends the leases `owner` holds on `taskIds` in one UPDATE; returns the fencing token of
 * each task still held (a task missing from the answer, or with another token, was lost).
 */
export async function renewTasks(
  db: Kysely<Database>,
  owner: string,
  taskIds: readonly string[],
  ttlMs: number,
): Promise<Map<string, number>> {
  if (taskIds.length === 0) return new Map();
  const rows = await db
    .updateTable('tasks')
    .set({ lease_until: until(db, ttlMs) })
    .where('id', 'in', taskIds)
    .where('owner', '=', owner)
    .where('state', 'not in', TERMINAL_STATES)
    .returning(['id', 'fencing'])
    .execute();
  return new Map(rows.map((r) => [r.id, Number(r.fencing)]));
}

/** Tasks to take over: SUBMITTED or WORKING with no lease or a lapsed one, oldest first. */
export async function lapsedTasks(
  db: Kysely<Database>,
  limit: number,
): Promise<{ id: string; owner: string | undefined }[]> {
  const rows = await db
    .selectFrom('tasks')
    .select(['id', 'owner'])
    .where('state', 'in', LEASED_STATES)
    .where((eb) =>
      eb.or([eb('owner', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', databaseNowMs(db))]),
    )
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, owner: r.owner ?? undefined }));
}
