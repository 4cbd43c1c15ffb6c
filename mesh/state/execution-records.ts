import type { Kysely, Selectable } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, type JsonValue, type StoreContext } from './context.js';
import { prepared } from './prepared.js';
import type { Database, ExecutionRecordsTable } from './tables.js';

/**
 * One immutable explainability record of a task: `kind` says which part of the Explanation
 * it holds, e.g. "planning", "collaborator", "substitution", "step-execution".
 */
export interface ExecutionRecord {
  id: string;
  taskId: string;
  kind: string;
  record: JsonValue;
  principal: string;
  at: Date;
}

/** A record to store; the id is chosen by the writer so a resumed step can tell it already wrote it. */
export interface NewExecutionRecord {
  id: string;
  taskId: string;
  kind: string;
  record: unknown;
  principal: string;
}

// Several per step: prepared once (see prepared).
const insertRecord = prepared(
  (
    trx: Kysely<Database>,
    _: undefined,
    id: string,
    taskId: string,
    kind: string,
    record: string,
    principal: string,
    at: string,
  ) =>
    trx
      .insertInto('execution_records')
      .values({ id, task_id: taskId, kind, record, principal, at })
      .onConflict((oc) => oc.doNothing())
      .returningAll(),
);

const selectRecord = prepared((db: Kysely<Database>, _: undefined, id: string) =>
  db.selectFrom('execution_records').selectAll().where('id', '=', id),
);

/** Execution records, immutable once written: a second write of the same id is ALREADY_EXISTS. */
export class ExecutionRecords {
  constructor(private readonly ctx: StoreContext) {}

  /** Stores a record; ALREADY_EXISTS when its id is taken. */
  async put(input: NewExecutionRecord): Promise<ExecutionRecord> {
    requireText(input.id, 'record id');
    requireText(input.taskId, 'task id');
    requireText(input.kind, 'record kind');
    requireText(input.principal, 'principal');
    const record = encodeJson(input.record, 'execution record');
    const at = this.ctx.now();
    const row = await this.ctx.write(
      async (trx) =>
        (await insertRecord(trx, undefined, input.id, input.taskId, input.kind, record, input.principal, at)).rows[0],
    );
    if (row === undefined) throw new MeshError(Code.ALREADY_EXISTS, `execution record ${input.id} already exists`);
    return this.toRecord(row);
  }

  /** The record; NOT_FOUND when there is none. */
  async get(id: string): Promise<ExecutionRecord> {
    const record = await this.find(id);
    if (record === undefined) throw new MeshError(Code.NOT_FOUND, `execution record ${id} not found`);
    return record;
  }

  /** The record, or undefined (asked before each substitution log is written: no error for the usual answer). */
  async find(id: string): Promise<ExecutionRecord | undefined> {
    const [row] = (await this.ctx.read((db) => selectRecord(db, undefined, id))).rows;
    return row === undefined ? undefined : this.toRecord(row);
  }

  /** A task's records in the order they were written, optionally of one kind. */
  async list(taskId: string, kind?: string): Promise<ExecutionRecord[]> {
    const rows = await this.ctx.read((db) => {
      let q = db.selectFrom('execution_records').selectAll().where('task_id', '=', taskId);
      if (kind !== undefined) q = q.where('kind', '=', kind);
      return q.orderBy('at').orderBy('id').execute();
    });
    return rows.map((r) => this.toRecord(r));
  }

  private toRecord(r: Selectable<ExecutionRecordsTable>): ExecutionRecord {
    const { json, time } = this.ctx.codec;
    return {
      id: r.id,
      taskId: r.task_id,
      kind: r.kind,
      record: json(r.record),
      principal: r.principal,
      at: time(r.at),
    };
  }
}
