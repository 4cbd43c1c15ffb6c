import type { Selectable } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, requireVersion, type JsonValue, type StoreContext } from './context.js';
import type { PlansTable } from './tables.js';

/** A stored task plan (the TaskPlan message, or any JSON, in `plan`). */
export interface PlanRecord {
  planId: string;
  taskId: string;
  /** 1 for the first plan of a task; a re-plan is a new plan with the next revision. */
  revision: number;
  plan: JsonValue;
  principal: string;
  at: Date;
}

/** A plan to store. */
export interface NewPlan {
  planId: string;
  taskId: string;
  revision: number;
  plan: unknown;
  principal: string;
}

/**
 * Task plans, immutable once written: there is no update, and a second write of the same
 * plan id or the same (task, revision) is refused with ALREADY_EXISTS, so an explanation
 * always shows the plan that was actually executed.
 */
export class Plans {
  constructor(private readonly ctx: StoreContext) {}

  /** Stores a plan; ALREADY_EXISTS when the id or the task's revision is taken. */
  async put(input: NewPlan): Promise<PlanRecord> {
    requireText(input.planId, 'plan id');
    requireText(input.taskId, 'task id');
    requireText(input.principal, 'principal');
    requireVersion(input.revision, 'revision');
    const plan = encodeJson(input.plan, 'plan');
    const at = this.ctx.now();
    const row = await this.ctx.write((trx) =>
      trx
        .insertInto('plans')
        .values({
          plan_id: input.planId,
          task_id: input.taskId,
          revision: input.revision,
          plan,
          principal: input.principal,
          at,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst(),
    );
    if (row === undefined) {
      throw new MeshError(
        Code.ALREADY_EXISTS,
        `plan ${input.planId} (task ${input.taskId} revision ${input.revision}) already exists`,
      );
    }
    return this.toPlan(row);
  }

  /** The plan; NOT_FOUND when there is none. */
  async get(planId: string): Promise<PlanRecord> {
    const row = await this.ctx.read((db) =>
      db.selectFrom('plans').selectAll().where('plan_id', '=', planId).executeTakeFirst(),
    );
    if (row === undefined) throw new MeshError(Code.NOT_FOUND, `plan ${planId} not found`);
    return this.toPlan(row);
  }

  /** The plan in force for a task (its highest revision), or undefined. */
  async latest(taskId: string): Promise<PlanRecord | undefined> {
    const row = await this.ctx.read((db) =>
      db
        .selectFrom('plans')
        .selectAll()
        .where('task_id', '=', taskId)
        .orderBy('revision', 'desc')
        .limit(1)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : this.toPlan(row);
  }

  /** Every plan of a task, by revision. */
  async list(taskId: string): Promise<PlanRecord[]> {
    const rows = await this.ctx.read((db) =>
      db.selectFrom('plans').selectAll().where('task_id', '=', taskId).orderBy('revision').execute(),
    );
    return rows.map((r) => this.toPlan(r));
  }

  private toPlan(r: Selectable<PlansTable>): PlanRecord {
    const { json, time } = this.ctx.codec;
    return {
      planId: r.plan_id,
      taskId: r.task_id,
      revision: r.revision,
      plan: json(r.plan),
      principal: r.principal,
      at: time(r.at),
    };
  }
}
