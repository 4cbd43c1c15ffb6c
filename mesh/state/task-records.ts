import type { Kysely, Selectable } from 'kysely';
import type { TaskState } from '../../gen/agentmesh/v1/task.js';
import type { Codec, JsonValue } from './context.js';
import { prepared } from './prepared.js';
import type { Database, TasksTable, TaskVersionsTable } from './tables.js';

/** A task as stored: queryable columns plus the Task message (or any JSON) in `data`. */
export interface TaskRecord {
  id: string;
  contextId: string;
  state: TaskState;
  version: number;
  data: JsonValue;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  updatedBy: string;
  /** The replica whose run holds the task's lease; undefined while no run does (see TaskLeases). */
  owner: string | undefined;
  /** The lease's fencing token: bumped each time the lease changes hands or is revoked. */
  fencing: number;
  /** Epoch ms by the database's clock until which the owner's lease holds. */
  leaseUntil: number | undefined;
}

/** One kept version of a task. */
export interface TaskVersion {
  taskId: string;
  version: number;
  state: TaskState;
  data: JsonValue;
  reason: string | undefined;
  principal: string;
  at: Date;
}

/**
 * Keeps the task row just written as a version, inside the same transaction. Copying it with
 * INSERT … SELECT makes the kept version exactly what was committed (who and when come from
 * updated_by/updated_at) without decoding and re-encoding the JSON.
 */
export async function keepTaskVersion(trx: Kysely<Database>, id: string, reason: string | undefined): Promise<void> {
  await copyVersion(trx, undefined, id, reason ?? null);
}

// With every change of a task: prepared once (see prepared).
const copyVersion = prepared((trx: Kysely<Database>, _: undefined, id: string, reason: string | null) =>
  trx
    .insertInto('task_versions')
    .columns(['task_id', 'version', 'state', 'data', 'reason', 'principal', 'at'])
    .expression((eb) =>
      eb
        .selectFrom('tasks')
        .select((s) => [
          'id',
          'version',
          'state',
          'data',
          s.cast<string | null>(s.val(reason), 'text').as('reason'),
          'updated_by',
          'updated_at',
        ])
        .where('id', '=', id),
    ),
);

/** Maps a tasks row to a TaskRecord. */
export function toTask({ json, time }: Codec, r: Selectable<TasksTable>): TaskRecord {
  return {
    id: r.id,
    contextId: r.context_id,
    state: r.state as TaskState,
    version: r.version,
    data: json(r.data),
    createdAt: time(r.created_at),
    createdBy: r.created_by,
    updatedAt: time(r.updated_at),
    updatedBy: r.updated_by,
    owner: r.owner ?? undefined,
    fencing: Number(r.fencing ?? 0),
    leaseUntil: r.lease_until === null || r.lease_until === undefined ? undefined : Number(r.lease_until),
  };
}

/** Maps a task_versions row to a TaskVersion. */
export function toTaskVersion({ json, time }: Codec, r: Selectable<TaskVersionsTable>): TaskVersion {
  return {
    taskId: r.task_id,
    version: r.version,
    state: r.state as TaskState,
    data: json(r.data),
    reason: r.reason ?? undefined,
    principal: r.principal,
    at: time(r.at),
  };
}
