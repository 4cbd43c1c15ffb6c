import type { Kysely, Selectable } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, type JsonValue, type StoreContext } from './context.js';
import { appendEventStatement } from './postgres-writes.js';
import { TASK_CHANNEL } from './task-channel.js';
import { prepared } from './prepared.js';
import type { Database, TaskEventsTable } from './tables.js';

/** One entry of a task's event log (the TaskEvent payload, e.g. `{ statusUpdate: {...} }`). */
export interface TaskEventRecord {
  taskId: string;
  /** Starts at 1 and increases by one per event of the task, without gaps. */
  sequence: number;
  event: JsonValue;
  principal: string;
  at: Date;
}

/**
 * Writes events whose sequences end at `lastSequence`, inside the caller's transaction, and
 * tells the task's followers (in every replica) once it commits. The caller reserved the
 * sequences by bumping the task's event_seq in an UPDATE: the row lock makes concurrent
 * appenders queue instead of colliding on the same sequence.
 */
export async function insertEvents(
  ctx: StoreContext,
  trx: Kysely<Database>,
  taskId: string,
  lastSequence: number,
  events: readonly string[],
  principal: string,
  at: string,
): Promise<number[]> {
  // Also for a change without events: a state change is news to whoever waits on the task.
  await ctx.notify(TASK_CHANNEL, taskId, trx);
  if (events.length === 0) return [];
  const first = lastSequence - events.length + 1;
  const sequences = events.map((_, i) => first + i);
  // One event or two (a result and the final status) nearly always: a statement prepared per
  // count, in chunks of at most EVENTS_PER_STATEMENT so that few statements are ever kept.
  for (let i = 0; i < events.length; i += EVENTS_PER_STATEMENT) {
    const chunk = events.slice(i, i + EVENTS_PER_STATEMENT);
    await insertEventRows(trx, chunk.length, taskId, principal, at, ...sequences.slice(i, i + chunk.length), ...chunk);
  }
  return sequences;
}

const EVENTS_PER_STATEMENT = 8;

// `rows`: the sequences, then the events (as many of each as `count`).
const insertEventRows = prepared(
  (trx: Kysely<Database>, count: number, taskId: string, principal: string, at: string, ...rows: (number | string)[]) =>
    trx.insertInto('task_events').values(
      Array.from({ length: count }, (_, i) => ({
        task_id: taskId,
        sequence: rows[i] as number,
        event: rows[count + i] as string,
        principal,
        at,
      })),
    ),
);

const bumpEventSeq = prepared((trx: Kysely<Database>, _: undefined, taskId: string) =>
  trx
    .updateTable('tasks')
    .set((eb) => ({ event_seq: eb('event_seq', '+', 1) }))
    .where('id', '=', taskId)
    .returning('event_seq'),
);

// Every follower of a task reads what is new at each change: prepared once (see prepared).
const eventsAfter = prepared((db: Kysely<Database>, _: undefined, taskId: string, after: number) =>
  db
    .selectFrom('task_events')
    .selectAll()
    .where('task_id', '=', taskId)
    .where('sequence', '>', after)
    .orderBy('sequence'),
);
const someEventsAfter = prepared((db: Kysely<Database>, _: undefined, taskId: string, after: number, limit: number) =>
  db
    .selectFrom('task_events')
    .selectAll()
    .where('task_id', '=', taskId)
    .where('sequence', '>', after)
    .orderBy('sequence')
    .limit(limit),
);

/** The append-only event log of each task. */
export class TaskEvents {
  constructor(private readonly ctx: StoreContext) {}

  /** Appends one event and returns it with its sequence; NOT_FOUND for an unknown task. */
  async append(taskId: string, event: unknown, principal: string): Promise<TaskEventRecord> {
    requireText(taskId, 'task id');
    requireText(principal, 'principal');
    const encoded = encodeJson(event, 'task event');
    const at = this.ctx.now();
    if (this.ctx.kind === 'postgres') {
      const sequence = await this.ctx.read((db) => appendEventStatement(this.ctx, db, taskId, encoded, principal, at));
      if (sequence === undefined) throw new MeshError(Code.NOT_FOUND, `task ${taskId} not found`);
      return { taskId, sequence, event: JSON.parse(encoded) as JsonValue, principal, at: new Date(at) };
    }
    const [sequence] = await this.ctx.write(async (trx) => {
      const [bumped] = (await bumpEventSeq(trx, undefined, taskId)).rows;
      if (bumped === undefined) throw new MeshError(Code.NOT_FOUND, `task ${taskId} not found`);
      return insertEvents(this.ctx, trx, taskId, bumped.event_seq, [encoded], principal, at);
    });
    return { taskId, sequence: sequence!, event: JSON.parse(encoded) as JsonValue, principal, at: new Date(at) };
  }

  /** The task's events after a sequence (0: from the start), oldest first. */
  async list(taskId: string, options: { afterSequence?: number; limit?: number } = {}): Promise<TaskEventRecord[]> {
    const after = options.afterSequence ?? 0;
    const { rows } = await this.ctx.read((db) =>
      options.limit === undefined
        ? eventsAfter(db, undefined, taskId, after)
        : someEventsAfter(db, undefined, taskId, after, options.limit),
    );
    return rows.map((r) => this.toRecord(r));
  }

  private toRecord(r: Selectable<TaskEventsTable>): TaskEventRecord {
    return {
      taskId: r.task_id,
      sequence: r.sequence,
      event: this.ctx.codec.json(r.event),
      principal: r.principal,
      at: this.ctx.codec.time(r.at),
    };
  }
}
