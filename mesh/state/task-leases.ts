import { sql, type Expression, type ExpressionBuilder, type Kysely } from 'kysely';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import { prepared } from './prepared.js';
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

/** The expiry of a lease taken or renewed now (`now`: the database's clock, StoreContext.nowMs). */
export function leaseEnd(now: Expression<number>, ttlMs: number): Expression<number> {
  return sql<number>`${now} + ${leaseTtl(ttlMs)}`;
}

/** A lease's time to live as stored: whole milliseconds, at least one. */
const leaseTtl = (ttlMs: number) => Math.max(1, Math.round(ttlMs));

/** A task nobody holds: no owner, or a lease that has lapsed by the database's clock (`now`). */
export function leaseFree(now: Expression<number>) {
  return (eb: ExpressionBuilder<Database, 'tasks'>) =>
    eb.or([eb('owner', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', now)]);
}

/**
 * Checks, inside the caller's transaction, that the run still holds the task's lease
 * (same owner and fencing token, task not terminal) and extends it; the UPDATE also locks
 * the row until the transaction ends, so a takeover or a cancel waits for this write or
 * wins before it. Throws leaseLost otherwise.
 */
export async function fenceTask(
  trx: Kysely<Database>,
  now: Expression<number>,
  taskId: string,
  lease: TaskLease,
): Promise<void> {
  const { rows } = await fenceStatement(trx, now, taskId, lease.owner, lease.fencing, leaseTtl(lease.ttlMs));
  if (rows.length === 0) throw leaseLost(taskId, lease.fencing);
}

// Every step's writes start with it: prepared once (see prepared).
const fenceStatement = prepared(
  (trx: Kysely<Database>, now: Expression<number>, taskId: string, owner: string, fencing: number, ttl: number) =>
    trx
      .updateTable('tasks')
      .set({ lease_until: sql<number>`${now} + ${ttl}` })
      .where('id', '=', taskId)
      .where('owner', '=', owner)
      .where('fencing', '=', fencing)
      .where('state', 'not in', TERMINAL_STATES)
      .returning('id'),
);

/**
 * Takes the task's lease when nobody holds it or its holder's lease has lapsed, and the
 * task is in one of `states`: one UPDATE, so of several replicas trying at once exactly one
 * wins. Returns the new fencing token and who held the lease before, or undefined.
 */
export async function acquireTask(
  trx: Kysely<Database>,
  now: Expression<number>,
  taskId: string,
  owner: string,
  ttlMs: number,
  states: readonly TaskState[] = LEASED_STATES,
  skipLocked = false,
): Promise<{ fencing: number; previousOwner: string | undefined } | undefined> {
  // Who held it, for the takeover's log line only: the UPDATE below decides. With skipLocked
  // (PostgreSQL) a row locked by an open transaction — a replica frozen mid-write — is passed
  // over instead of waited for, so one such row does not hold up the takeover of every other.
  let query = trx.selectFrom('tasks').select('owner').where('id', '=', taskId);
  if (skipLocked) query = query.forUpdate().skipLocked();
  const before = await query.executeTakeFirst();
  if (skipLocked && before === undefined) return undefined;
  const row = await trx
    .updateTable('tasks')
    .set((eb) => ({ owner, fencing: eb('fencing', '+', 1), lease_until: leaseEnd(now, ttlMs) }))
    .where('id', '=', taskId)
    .where('state', 'in', states)
    .where(leaseFree(now))
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
  now: Expression<number>,
  owner: string,
  taskIds: readonly string[],
  ttlMs: number,
): Promise<Map<string, number>> {
  if (taskIds.length === 0) return new Map();
  const rows = await db
    .updateTable('tasks')
    .set({ lease_until: leaseEnd(now, ttlMs) })
    .where('id', 'in', taskIds)
    .where('owner', '=', owner)
    .where('state', 'not in', TERMINAL_STATES)
    .returning(['id', 'fencing'])
    .execute();
  return new Map(rows.map((r) => [r.id, Number(r.fencing)]));
}

/**
 * Tasks to take over: SUBMITTED or WORKING with no lease or a lapsed one, oldest first; rows
 * without an owner come with what tells whether a release before leases may still run them.
 */
export async function lapsedTasks(
  db: Kysely<Database>,
  now: Expression<number>,
  limit: number,
): Promise<{ id: string; owner: string | null; data: unknown; updated_at: unknown }[]> {
  return db
    .selectFrom('tasks')
    .select(['id', 'owner', 'data', 'updated_at'])
    .where('state', 'in', LEASED_STATES)
    .where(leaseFree(now))
    .orderBy(sql`case when owner is null then 1 else 0 end`) // rows of a dead replica first: unowned ones may still be in their grace period
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * Whether a live task nobody leased may be taken over. Only a replica of a release before
 * leases writes such a task, and it may be running it right now (a rolling upgrade): wait
 * until that run's own deadline (a run never outlives it) — or, not yet running, until it
 * has sat unchanged for `graceMs` — plus `graceMs`. Times are the writers' clocks (ms).
 */
export function unownedTaskLapsed(runDeadline: unknown, updatedAt: number, graceMs: number, now: number): boolean {
  const until = typeof runDeadline === 'number' ? Math.max(runDeadline, updatedAt) : updatedAt;
  return until + graceMs < now;
}
