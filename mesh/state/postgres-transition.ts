import { CompiledQuery, type Kysely } from 'kysely';
import type { TaskState } from '../../gen/agentmesh/v1/task.js';
import type { Backend } from './backend.js';
import type { StoreContext } from './context.js';
import type { Database } from './tables.js';
import { TASK_CHANNEL } from './task-channel.js';
import { TransitionBatcher, type TransitionRow } from './transition-batcher.js';

/** One compare-and-set change of a task, checked and encoded, ready for the transition statement. */
export interface Transition {
  id: string;
  expected: number;
  principal: string;
  /** ISO time stamped on the change (updated_at, the version's and the events' `at`). */
  at: string;
  /** The new state; undefined keeps it. */
  state: TaskState | undefined;
  /** The states the task may be in for the change to apply. */
  from: readonly TaskState[];
  /** The new data as JSON text; undefined keeps it. */
  data: string | undefined;
  /** Events as JSON texts, appended with the next sequences. */
  events: readonly string[];
  reason: string | undefined;
  /** Written only while this owner holds the lease under this token. */
  lease: { owner: string; fencing: number } | undefined;
  /** Takes the lease for this owner when nobody holds it (or it lapsed). */
  acquireOwner: string | undefined;
  /** Extends the lease to the database's now + ttl (a lease check or an acquire that stays). */
  ttlMs: number | undefined;
  /** Gives the lease up (release or revoke). */
  gone: boolean;
  /** Bumps the fencing token: the holder's next write is refused. */
  revoke: boolean;
}

/** What a PostgreSQL statement answers. */
export interface PgResult {
  rows: Record<string, unknown>[];
}

/**
 * Runs a statement on a pooled connection: prepared under `name` (parsed and planned once
 * per connection) unless the store runs unnamed statements (AGENTMESH_DB_PREPARED_STATEMENTS).
 */
export type PreparedQuery = (query: { name: string; text: string; values: unknown[] }) => Promise<PgResult>;

/** The name the batch transition statement is prepared under on each connection. */
export const TRANSITION_STATEMENT = 'agentmesh_task_transition_v2';
/** The name of the transition statement that waits for row locks. */
export const TRANSITION_WAIT_STATEMENT = 'agentmesh_task_transition_wait_v2';

/**
 * The tasks columns a statement returns. Named, never `t.*`: a prepared statement whose result
 * columns change (a migration adding a column during a rolling upgrade) fails on every
 * connection that prepared it.
 */
export const TASK_COLUMNS = [
  'id',
  'context_id',
  'state',
  'version',
  'data',
  'created_at',
  'created_by',
  'updated_at',
  'updated_by',
  'owner',
  'fencing',
  'lease_until',
];

const NOW = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * Applies a batch of task transitions in one statement, so in one transaction and one
 * round trip: for each, the compare-and-set UPDATE (version, lifecycle, lease), the kept
 * version, its events and the NOTIFY of the task's followers. Each transition is its own
 * row of the UPDATE, matched or not on its own: one that loses its compare-and-set is simply
 * absent from the answer and takes nothing else down. The kept version is copied from the
 * UPDATE's RETURNING (sibling CTEs see the table as it was before the statement).
 *
 * With `skip`, the batch's rows are locked first (`l`), passing over a row another transaction
 * holds instead of waiting for it — one locked row would otherwise hold up the whole batch; a
 * transition whose row was not locked (held elsewhere, or no such task) is answered as
 * `skipped`, and the batcher sends it again on its own, without `skip`: that statement waits
 * for the lock, as a plain UPDATE does, then judges the compare-and-set. Only `l` and the
 * `skipped` rows are added: kept small, so that PostgreSQL still settles on one generic plan for
 * the prepared statement (with an existence probe per skipped row it re-planned every execution,
 * 0.7 ms of server CPU each).
 */
function transitionSql(skip: boolean): string {
  return `
with s as (
  select * from unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::int[], $6::int[], $7::jsonb[],
    $8::int[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::text[], $14::bool[], $15::bool[], $16::text[])
    with ordinality as s(id, expected, principal, at, state, from_mask, data, n_events, reason,
      lease_owner, lease_fencing, ttl, acquire_owner, gone, revoke, notice, i)
)${
    skip
      ? `, l as materialized (
  select t.id from tasks t join s on t.id = s.id for no key update of t skip locked
)`
      : ''
  }, u as (
  update tasks t set
    version = s.expected + 1,
    updated_at = s.at,
    updated_by = s.principal,
    event_seq = t.event_seq + s.n_events,
    state = coalesce(s.state, t.state),
    data = coalesce(s.data, t.data),
    owner = case when s.gone then null when s.acquire_owner is not null then s.acquire_owner else t.owner end,
    fencing = t.fencing + case when s.revoke or (s.acquire_owner is not null and not s.gone) then 1 else 0 end,
    lease_until = case when s.gone then null when s.ttl is not null then ${NOW} + s.ttl else t.lease_until end
  from s${skip ? ' join l on l.id = s.id' : ''}
  where t.id = s.id and t.version = s.expected and (s.from_mask >> t.state) & 1 = 1
    and (s.lease_owner is null or (t.owner = s.lease_owner and t.fencing = s.lease_fencing))
    and (s.acquire_owner is null or t.owner is null or t.lease_until is null or t.lease_until < ${NOW})
  returning ${TASK_COLUMNS.map((c) => `t.${c}`).join(', ')}, t.event_seq, s.i, s.reason, s.n_events, s.notice
), v as (
  insert into task_versions (task_id, version, state, data, reason, principal, at)
  select id, version, state, data, reason, updated_by, updated_at from u
), e as (
  insert into task_events (task_id, sequence, event, principal, at)
  select u.id, u.event_seq - u.n_events + ev.ord, ev.event, u.updated_by, u.updated_at
  from u join unnest($17::int[], $18::int[], $19::jsonb[]) as ev(i, ord, event) on ev.i = u.i
)
select ${TASK_COLUMNS.join(', ')}, pg_notify($20, u.notice), false as skipped from u${
    skip
      ? `
union all
select s.id, ${TASK_COLUMNS.slice(1)
          .map(() => 'null')
          .join(', ')}, null, true from s
where not exists (select 1 from l where l.id = s.id)`
      : ''
  }`;
}

/** The batch statement: a row another transaction holds locked is skipped (answered `skipped`), not waited for. */
export const TRANSITION_SQL = transitionSql(true);
/** The same statement waiting for row locks: a skipped transition sent again, or one inside an open transaction. */
export const TRANSITION_WAIT_SQL = transitionSql(false);

/**
 * The statement's parameters for `batch` (task ids distinct): per-transition columns as
 * arrays, the events flattened with the transition (1-based) and their order in it.
 * `wire` is the notice channel, `notice` the payload sent for a task.
 */
export function transitionParams(
  batch: readonly Transition[],
  wire: string,
  notice: (taskId: string) => string,
): unknown[] {
  const col = <T>(f: (t: Transition) => T) => batch.map(f);
  const evI: number[] = [];
  const evOrd: number[] = [];
  const evText: string[] = [];
  batch.forEach((t, i) =>
    t.events.forEach((e, k) => {
      evI.push(i + 1);
      evOrd.push(k + 1);
      evText.push(e);
    }),
  );
  return [
    col((t) => t.id),
    col((t) => t.expected),
    col((t) => t.principal),
    col((t) => t.at),
    col((t) => t.state ?? null),
    col((t) => t.from.reduce((mask, s) => mask | (1 << s), 0)),
    col((t) => t.data ?? null),
    col((t) => t.events.length),
    col((t) => t.reason ?? null),
    col((t) => t.lease?.owner ?? null),
    col((t) => t.lease?.fencing ?? null),
    col((t) => t.ttlMs ?? null),
    col((t) => t.acquireOwner ?? null),
    col((t) => t.gone),
    col((t) => t.revoke),
    col((t) => notice(t.id)),
    evI,
    evOrd,
    evText,
    wire,
  ];
}

/** The group commit of a PostgreSQL store's task transitions; undefined on SQLite. */
export function transitionBatcher(backend: Backend): TransitionBatcher | undefined {
  const { prepared, notices } = backend;
  if (prepared === undefined) return undefined;
  const wire = notices.wire(TASK_CHANNEL);
  return new TransitionBatcher(async (batch, wait) => {
    const values = transitionParams(batch, wire, (id) => notices.encode(id));
    const result = await prepared(
      wait
        ? { name: TRANSITION_WAIT_STATEMENT, text: TRANSITION_WAIT_SQL, values }
        : { name: TRANSITION_STATEMENT, text: TRANSITION_SQL, values },
    );
    return result.rows as TransitionRow[];
  }, backend.poolMax ?? 1);
}

/**
 * Applies one transition on PostgreSQL: group-committed with concurrent ones, or, inside an
 * open transaction (`db` is it), as one statement of that transaction. Resolves with the
 * written row, or undefined when the compare-and-set did not match; this process's
 * followers of the task hear of it once it is committed.
 */
export async function applyTransition(
  ctx: StoreContext,
  db: Kysely<Database>,
  transition: Transition,
): Promise<TransitionRow | undefined> {
  const batcher = ctx.transitions;
  let row: TransitionRow | undefined;
  if (batcher) row = await batcher.apply(transition);
  else {
    const { notices } = ctx;
    const values = transitionParams([transition], notices.wire(TASK_CHANNEL), (id) => notices.encode(id));
    row = (await db.executeQuery<TransitionRow>(CompiledQuery.raw(TRANSITION_WAIT_SQL, values))).rows[0];
  }
  if (row) ctx.afterCommit(TASK_CHANNEL, transition.id, db);
  return row;
}
