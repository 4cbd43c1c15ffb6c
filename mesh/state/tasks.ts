import { sql, type Expression, type Kysely, type Selectable } from 'kysely';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, requireVersion, staleVersion, type StoreContext } from './context.js';
import {
  acquireTask,
  ACQUIRABLE_STATES,
  LEASED_STATES,
  fenceTask,
  lapsedTasks,
  leaseFree,
  unownedTaskLapsed,
  leaseEnd,
  leaseLost,
  renewTasks,
  type TaskLease,
} from './task-leases.js';
import { insertEvents } from './task-events.js';
import { assertTransition, isTerminal, LIVE_STATES, stateName, statesLeadingTo } from './task-states.js';
import { keepTaskVersion, toTask, toTaskVersion, type TaskRecord, type TaskVersion } from './task-records.js';
import type { Database, TasksTable } from './tables.js';
import { isUniqueViolation } from './db-errors.js';
import { applyTransition, type Transition } from './postgres-transition.js';
import { createTaskStatement, type NewTaskRow } from './postgres-writes.js';
import { prepared } from './prepared.js';

/** A new task; it starts SUBMITTED at version 1. */
export interface NewTask {
  id: string;
  contextId: string;
  principal: string;
  data?: unknown;
  /** The client's idempotency key: a repeated (principal, requestId) returns the first task. */
  requestId?: string;
  /** Events appended in the same transaction (e.g. the initial status update). */
  events?: readonly unknown[];
  /** The replica that will run it takes its lease (fencing token 1) in the same write. */
  lease?: { owner: string; ttlMs: number };
}

/** A compare-and-set change of a task; state changes must follow the A2A lifecycle. */
export interface TaskChange {
  expectedVersion: number;
  principal: string;
  state?: TaskState;
  /** Replaces the task's data when given. */
  data?: unknown;
  reason?: string;
  /** Events appended in the same transaction, so the log never disagrees with the task. */
  events?: readonly unknown[];
  /** Written only while this run holds the task's lease (else ABORTED, leaseLost); the write extends it. */
  lease?: TaskLease;
  /** Takes the lease for a run on this replica in the same write (its new token is in the answer's `fencing`). */
  acquire?: { owner: string; ttlMs: number };
  /** Gives the lease up in the same write: the run ends, or the task waits for its caller. */
  release?: boolean;
  /** Takes the lease from whoever holds it (a cancel): their next write is refused. */
  revoke?: boolean;
}

/** Where a page of tasks starts: after this task in newest-change-first order. */
export interface TaskCursor {
  updatedAt: Date;
  id: string;
}

/** Filters of a task listing (all optional, combined with AND). */
export interface TaskQuery {
  states?: readonly TaskState[];
  /** The subject the task runs for (tasks.created_by). */
  subject?: string;
  contextId?: string;
  /** Only tasks whose status changed after this time (updated_at). */
  updatedAfter?: Date;
  /** Only tasks created at or after this time. */
  createdAfter?: Date;
  /** Only tasks created before this time. */
  createdBefore?: Date;
}

// Read again and again as a task runs: prepared once (see prepared).
const selectTask = prepared((db: Kysely<Database>, _: undefined, id: string) =>
  db.selectFrom('tasks').selectAll().where('id', '=', id),
);

// Each task's creation, with its request id and (a replica that runs it) its lease.
const claimRequest = prepared(
  (trx: Kysely<Database>, _: undefined, principal: string, requestId: string, taskId: string, at: string) =>
    trx
      .insertInto('task_requests')
      .values({ principal, request_id: requestId, task_id: taskId, at })
      .onConflict((oc) => oc.doNothing())
      .returning('task_id'),
);
// Gives back the claim just taken for a task id found taken (see create).
const unclaimRequest = (trx: Kysely<Database>, principal: string, requestId: string, taskId: string) =>
  trx
    .deleteFrom('task_requests')
    .where('principal', '=', principal)
    .where('request_id', '=', requestId)
    .where('task_id', '=', taskId)
    .execute();
const newTaskRow = (id: string, contextId: string, data: string, eventSeq: number, at: string, principal: string) => ({
  id,
  context_id: contextId,
  state: TaskState.TASK_STATE_SUBMITTED,
  version: 1,
  data,
  event_seq: eventSeq,
  step_seq: 0,
  created_at: at,
  created_by: principal,
  updated_at: at,
  updated_by: principal,
});
const insertTask = prepared(
  (
    trx: Kysely<Database>,
    _: undefined,
    id: string,
    contextId: string,
    data: string,
    eventSeq: number,
    at: string,
    principal: string,
  ) =>
    trx
      .insertInto('tasks')
      .values(newTaskRow(id, contextId, data, eventSeq, at, principal))
      .onConflict((oc) => oc.doNothing())
      .returningAll(),
);
const insertLeasedTask = prepared(
  (
    trx: Kysely<Database>,
    now: Expression<number>,
    id: string,
    contextId: string,
    data: string,
    eventSeq: number,
    at: string,
    principal: string,
    owner: string,
    ttlMs: number,
  ) =>
    trx
      .insertInto('tasks')
      .values({
        ...newTaskRow(id, contextId, data, eventSeq, at, principal),
        owner,
        fencing: 1,
        lease_until: sql<number>`${now} + ${ttlMs}`,
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll(),
);

/** Tasks with the A2A state machine, compare-and-set updates and every version kept. */
export class Tasks {
  constructor(private readonly ctx: StoreContext) {}

  /** Creates a task, or returns the task already created for the same (principal, requestId). */
  async create(input: NewTask): Promise<{ task: TaskRecord; created: boolean }> {
    const id = requireText(input.id, 'task id');
    requireText(input.contextId, 'context id');
    const principal = requireText(input.principal, 'principal');
    if (input.requestId !== undefined) requireText(input.requestId, 'request id');
    const data = encodeJson(input.data ?? {}, 'task data');
    const events = (input.events ?? []).map((e) => encodeJson(e, 'task event'));
    const at = this.ctx.now();
    // PostgreSQL outside a transaction: one statement. Inside one, a task id already taken must
    // not fail a statement (that would abort the caller's transaction): the steps below check instead.
    if (this.ctx.kind === 'postgres' && !this.ctx.inOpenTransaction) {
      const task = { id, contextId: input.contextId, principal, at, data, events, requestId: input.requestId };
      return this.createPostgres({ ...task, lease: input.lease });
    }
    return this.ctx.write(async (trx) => {
      if (input.requestId !== undefined) {
        // A concurrent duplicate blocks on this key until the first transaction ends, then
        // inserts nothing and reads the winner's task: exactly one task per request.
        const [claimed] = (await claimRequest(trx, undefined, principal, input.requestId, id, at)).rows;
        if (claimed === undefined)
          return { task: await this.existingForRequest(trx, principal, input.requestId), created: false };
      }
      const [row] = (
        input.lease
          ? await insertLeasedTask(
              trx,
              this.ctx.nowMs(),
              id,
              input.contextId,
              data,
              events.length,
              at,
              principal,
              input.lease.owner,
              Math.max(1, Math.round(input.lease.ttlMs)),
            )
          : await insertTask(trx, undefined, id, input.contextId, data, events.length, at, principal)
      ).rows;
      if (row === undefined) {
        // Inside `atomically` the caller's transaction goes on and may commit: a claim left behind
        // would answer the request's retry (with a free id) with the task that holds this one.
        if (input.requestId !== undefined) await unclaimRequest(trx, principal, input.requestId, id);
        throw new MeshError(Code.ALREADY_EXISTS, `task ${id} already exists`);
      }
      await keepTaskVersion(trx, id, undefined);
      await insertEvents(this.ctx, trx, id, events.length, events, principal, at);
      return { task: toTask(this.ctx.codec, row), created: true };
    });
  }

  private async createPostgres(task: NewTaskRow): Promise<{ task: TaskRecord; created: boolean }> {
    const row = await this.ctx.read(async (db) => {
      try {
        return await createTaskStatement(this.ctx, db, task);
      } catch (err) {
        if (isUniqueViolation(err)) throw new MeshError(Code.ALREADY_EXISTS, `task ${task.id} already exists`);
        throw err;
      }
    });
    if (row !== undefined) return { task: toTask(this.ctx.codec, row), created: true };
    const existing = await this.ctx.read((db) => this.existingForRequest(db, task.principal, task.requestId!));
    return { task: existing, created: false };
  }

  /** The task, or undefined. */
  async find(id: string): Promise<TaskRecord | undefined> {
    const [row] = (await this.ctx.read((db) => selectTask(db, undefined, id))).rows;
    return row === undefined ? undefined : toTask(this.ctx.codec, row);
  }

  /** The task; NOT_FOUND when there is none. */
  async get(id: string): Promise<TaskRecord> {
    const task = await this.find(id);
    if (task === undefined) throw new MeshError(Code.NOT_FOUND, `task ${id} not found`);
    return task;
  }

  /**
   * Applies a change if the task is still at expectedVersion: ABORTED when another writer got
   * there first, FAILED_PRECONDITION for a transition outside the A2A lifecycle.
   */
  async update(id: string, change: TaskChange): Promise<TaskRecord> {
    const expected = requireVersion(change.expectedVersion, 'expectedVersion');
    const principal = requireText(change.principal, 'principal');
    const data = change.data === undefined ? undefined : encodeJson(change.data, 'task data');
    const events = (change.events ?? []).map((e) => encodeJson(e, 'task event'));
    const at = this.ctx.now();
    // One UPDATE does the compare-and-set on version, the lifecycle check (the current state
    // must be one that may lead to the new one) and reserves the event sequences; only when
    // it matches nothing do we read the row, to say why.
    const from = change.state === undefined ? LIVE_STATES : statesLeadingTo(change.state);
    if (this.ctx.kind === 'postgres')
      return this.updatePostgres(id, change, { expected, principal, data, events, at, from });
    return this.ctx.write(async (trx) => {
      const now = this.ctx.nowMs();
      const extended = leaseEnd(now, change.lease?.ttlMs ?? change.acquire?.ttlMs ?? 0);
      const gone = change.release || change.revoke;
      let q = trx
        .updateTable('tasks')
        .set((eb) => ({
          version: expected + 1,
          updated_at: at,
          updated_by: principal,
          event_seq: eb('event_seq', '+', events.length),
          ...(change.state === undefined ? {} : { state: change.state }),
          ...(data === undefined ? {} : { data }),
          ...(change.lease && !gone ? { lease_until: extended } : {}),
          ...(change.acquire && !gone
            ? { owner: change.acquire.owner, fencing: eb('fencing', '+', 1), lease_until: extended }
            : {}),
          ...(gone ? { owner: null, lease_until: null } : {}),
          ...(change.revoke ? { fencing: eb('fencing', '+', 1) } : {}),
        }))
        .where('id', '=', id)
        .where('version', '=', expected)
        .where('state', 'in', from);
      if (change.lease) q = q.where('owner', '=', change.lease.owner).where('fencing', '=', change.lease.fencing);
      if (change.acquire) q = q.where(leaseFree(now));
      const row = await q.returningAll().executeTakeFirst();
      if (row === undefined) throw await this.whyNot(trx, id, expected, change);
      await keepTaskVersion(trx, id, change.reason);
      await insertEvents(this.ctx, trx, id, row.event_seq, events, principal, at);
      return toTask(this.ctx.codec, row);
    });
  }

  // PostgreSQL: the same change as one statement (compare-and-set, version, events, NOTIFY),
  // group-committed with concurrent ones; no transaction of its own around it.
  private async updatePostgres(
    id: string,
    change: TaskChange,
    t: Pick<Transition, 'expected' | 'principal' | 'data' | 'events' | 'at' | 'from'>,
  ): Promise<TaskRecord> {
    const gone = change.release === true || change.revoke === true;
    const ttl = change.lease?.ttlMs ?? change.acquire?.ttlMs;
    const transition: Transition = {
      ...t,
      id,
      state: change.state,
      reason: change.reason,
      lease: change.lease,
      acquireOwner: change.acquire?.owner,
      ttlMs: ttl !== undefined && !gone ? Math.max(1, Math.round(ttl)) : undefined,
      gone,
      revoke: change.revoke === true,
    };
    // read(): errors become MeshErrors; inside `atomically` the statement joins that transaction.
    const row = await this.ctx.read((db) => applyTransition(this.ctx, db, transition));
    if (row === undefined) throw await this.ctx.read((db) => this.whyNot(db, id, t.expected, change));
    return toTask(this.ctx.codec, row as unknown as Selectable<TasksTable>);
  }

  /**
   * Takes the task's lease for `owner` when nobody holds it or its lease lapsed (by the
   * database's clock) and the task is in `states`: of replicas trying at once, one wins.
   * `skipLocked`: pass over a row an open transaction holds (the takeover scan) instead of waiting.
   */
  async acquire(
    id: string,
    owner: string,
    ttlMs: number,
    states: readonly TaskState[] = ACQUIRABLE_STATES,
    { skipLocked = false }: { skipLocked?: boolean } = {},
  ): Promise<{ fencing: number; previousOwner: string | undefined } | undefined> {
    // Row locks that skip exist on PostgreSQL only; on SQLite one process writes at a time anyway.
    const skip = skipLocked && this.ctx.kind === 'postgres';
    return this.ctx.write((trx) => acquireTask(trx, this.ctx.nowMs(), id, owner, ttlMs, states, skip));
  }

  /** Checks that a run still holds the task's lease and extends it (inside `atomically`, with the run's writes). */
  async fence(id: string, lease: TaskLease): Promise<void> {
    await this.ctx.write((trx) => fenceTask(trx, this.ctx.nowMs(), id, lease));
  }

  /** Extends, in one UPDATE, the leases `owner` holds; returns the fencing token of each task still held. */
  async renew(owner: string, ids: readonly string[], ttlMs: number): Promise<Map<string, number>> {
    return this.ctx.write((trx) => renewTasks(trx, this.ctx.nowMs(), owner, ids, ttlMs));
  }

  /** Who holds the task's lease and under which token, with its state (a light read: no data); undefined when absent. */
  async holder(id: string): Promise<{ state: TaskState; owner: string | undefined; fencing: number } | undefined> {
    const row = await this.ctx.read((db) =>
      db.selectFrom('tasks').select(['state', 'owner', 'fencing']).where('id', '=', id).executeTakeFirst(),
    );
    return row && { state: row.state as TaskState, owner: row.owner ?? undefined, fencing: Number(row.fencing) };
  }

  /**
   * Ends every lease on a live task at once. Only for a store one process owns (SQLite), at
   * start-up: whatever held those leases was an earlier process, now gone.
   */
  async voidLeases(): Promise<void> {
    await this.ctx.write((trx) =>
      trx
        .updateTable('tasks')
        .set({ lease_until: 0 })
        .where('owner', 'is not', null)
        .where('state', 'in', LEASED_STATES)
        .execute(),
    );
  }

  /** SUBMITTED and WORKING tasks whose lease is absent or lapsed: what a replica takes over. */
  async lapsed(limit = 100, unownedGraceMs = 0): Promise<{ id: string; owner: string | undefined }[]> {
    const rows = await this.ctx.read((db) => lapsedTasks(db, this.ctx.nowMs(), limit));
    const now = Date.now();
    return rows
      .filter(
        (r) =>
          r.owner !== null ||
          unownedTaskLapsed(
            (this.ctx.codec.json(r.data) as { runDeadline?: unknown }).runDeadline,
            this.ctx.codec.time(r.updated_at).getTime(),
            unownedGraceMs,
            now,
          ),
      )
      .map((r) => ({ id: r.id, owner: r.owner ?? undefined }));
  }

  private async whyNot(trx: Kysely<Database>, id: string, expected: number, change: TaskChange): Promise<MeshError> {
    const to = change.state;
    const current = await trx
      .selectFrom('tasks')
      .select(['state', 'version', 'owner', 'fencing'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (current === undefined) return new MeshError(Code.NOT_FOUND, `task ${id} not found`);
    const { lease } = change;
    if (lease && (current.owner !== lease.owner || Number(current.fencing) !== lease.fencing))
      return leaseLost(id, lease.fencing);
    if (current.version !== expected) return staleVersion(`task ${id}`, expected, current.version);
    if (to === undefined && isTerminal(current.state)) {
      return new MeshError(
        Code.FAILED_PRECONDITION,
        `task ${id} is ${stateName(current.state)} and can no longer change`,
      );
    }
    try {
      assertTransition(id, current.state, to ?? current.state);
    } catch (err) {
      return err as MeshError;
    }
    if (change.acquire) return new MeshError(Code.ABORTED, `task ${id} is run by another replica: retry later`);
    return staleVersion(`task ${id}`, expected, current.version);
  }

  /** Every version of the task, oldest first. */
  async history(id: string): Promise<TaskVersion[]> {
    const rows = await this.ctx.read((db) =>
      db.selectFrom('task_versions').selectAll().where('task_id', '=', id).orderBy('version').execute(),
    );
    return rows.map((r) => toTaskVersion(this.ctx.codec, r));
  }

  /** Tasks of a conversation and/or in given states, oldest first. */
  async list(
    filter: { contextId?: string; states?: readonly TaskState[]; limit?: number } = {},
  ): Promise<TaskRecord[]> {
    const rows = await this.ctx.read((db) => {
      let q = db.selectFrom('tasks').selectAll().orderBy('created_at').orderBy('id');
      if (filter.contextId !== undefined) q = q.where('context_id', '=', filter.contextId);
      if (filter.states !== undefined)
        q = filter.states.length === 0 ? q.where((eb) => eb.lit(false)) : q.where('state', 'in', filter.states);
      if (filter.limit !== undefined) q = q.limit(filter.limit);
      return q.execute();
    });
    return rows.map((r) => toTask(this.ctx.codec, r));
  }

  /**
   * One page of tasks matching `query`, newest status change first (ties by id), starting
   * after `after`: keyset paging, so a page costs the same however deep it is.
   */
  async page(query: TaskQuery, limit: number, after?: TaskCursor): Promise<TaskRecord[]> {
    const rows = await this.ctx.read((db) => {
      let q = this.filtered(db, query).selectAll().orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(limit);
      if (after) {
        const at = after.updatedAt.toISOString();
        q = q.where((eb) =>
          eb.or([eb('updated_at', '<', at), eb.and([eb('updated_at', '=', at), eb('id', '<', after.id)])]),
        );
      }
      return q.execute();
    });
    return rows.map((r) => toTask(this.ctx.codec, r));
  }

  /** How many tasks match `query` (a listing's total size). */
  async count(query: TaskQuery): Promise<number> {
    const row = await this.ctx.read((db) =>
      this.filtered(db, query)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow(),
    );
    return Number(row.n);
  }

  private filtered(db: Kysely<Database>, query: TaskQuery) {
    let q = db.selectFrom('tasks');
    if (query.states !== undefined)
      q = query.states.length === 0 ? q.where((eb) => eb.lit(false)) : q.where('state', 'in', query.states);
    if (query.subject !== undefined) q = q.where('created_by', '=', query.subject);
    if (query.contextId !== undefined) q = q.where('context_id', '=', query.contextId);
    if (query.updatedAfter) q = q.where('updated_at', '>', query.updatedAfter.toISOString());
    if (query.createdAfter) q = q.where('created_at', '>=', query.createdAfter.toISOString());
    if (query.createdBefore) q = q.where('created_at', '<', query.createdBefore.toISOString());
    return q;
  }

  private async existingForRequest(trx: Kysely<Database>, principal: string, requestId: string): Promise<TaskRecord> {
    const row = await trx
      .selectFrom('task_requests')
      .innerJoin('tasks', 'tasks.id', 'task_requests.task_id')
      .selectAll('tasks')
      .where('task_requests.principal', '=', principal)
      .where('task_requests.request_id', '=', requestId)
      .executeTakeFirst();
    if (row === undefined)
      throw new MeshError(Code.INTERNAL, 'internal error', {
        cause: new Error(`request ${requestId} maps to no task`),
      });
    return toTask(this.ctx.codec, row);
  }
}
