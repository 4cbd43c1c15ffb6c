import { PlanCreated } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { PlanningRecord } from '../../gen/agentmesh/v1/explain.js';
import { TaskPlan } from '../../gen/agentmesh/v1/plan.js';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { isLeaseLost, type Store, type TaskLease, type TaskRecord } from '../state/index.js';
import type { AuditedTransitions } from './audited-transitions.js';
import type { InventoryItem } from './inventory.js';
import { planningRecordOf, type Planner } from './planner.js';
import type { TaskChanges } from './task-changes.js';
import { statusEvent, type TaskData } from './task-codec.js';
import type { Run, TaskOwnership } from './task-ownership.js';

/** What TaskPlanning works with: the agent's planner and collaborators, and the runtime's writers. */
export interface TaskPlanningOptions {
  card: AgentCard;
  planner: Planner;
  /** The collaborators in the agent's discovery scope, for the planner. */
  inventory: () => Promise<InventoryItem[]>;
  store: Store;
  ownership: TaskOwnership;
  transitions: AuditedTransitions;
  changes: TaskChanges;
  /** Tells the task's followers in this process that it changed. */
  changed(taskId: string): void;
}

/**
 * The plan a run of a task carries out: the stored one when the task was
 * planned before (a plan is persisted and immutable), else the planner's,
 * stored with its planning record under the run's lease; a planning failure
 * fails the task.
 */
export class TaskPlanning {
  constructor(private readonly o: TaskPlanningOptions) {}

  /** The plan of the task `rec` (`d`: its data) for `run`, holding `lease`; undefined when the run is over. */
  async planFor(rec: TaskRecord, d: TaskData, run: Run, lease: TaskLease): Promise<TaskPlan | undefined> {
    const taskId = rec.id;
    const { signal } = run.controller;
    let plan: TaskPlan;
    const stored = await this.o.store.plans.latest(taskId);
    if (stored) plan = TaskPlan.fromJSON(stored.plan);
    else {
      try {
        const goalHint = this.o.card.skills.find((s) => s.id === d.skillId)?.description;
        const outcome = await this.o.planner.plan(
          { taskId, skillId: d.skillId, text: d.text, input: d.input, inventory: await this.o.inventory(), goalHint },
          signal,
        );
        plan = outcome.plan;
        // One transaction: a crash leaves either the whole plan with its planning record, or neither (and the task is planned again).
        await this.o.ownership.fenced(taskId, run, () =>
          this.o.store.atomically(async (tx) => {
            await tx.tasks.fence(taskId, lease);
            await tx.records.put({
              id: `${taskId}:planning`,
              taskId,
              kind: 'planning',
              record: PlanningRecord.toJSON(outcome.record),
              principal: this.o.card.name,
            });
            await tx.plans.put({
              planId: plan.planId,
              taskId,
              revision: 1,
              plan: TaskPlan.toJSON(plan),
              principal: this.o.card.name,
            });
            await tx.events.append(taskId, { planCreated: PlanCreated.toJSON({ plan }) }, this.o.card.name);
          }),
        );
        await this.o.transitions.record(
          rec,
          'plan_created',
          rec.state,
          `${plan.steps.length} steps: ${plan.steps.map((s) => s.id).join(', ')}`,
          plan.planId,
        );
        this.o.changed(taskId);
      } catch (err) {
        // Canceled while planning (CancelTask writes the outcome), or the lease is lost: nothing more to write.
        if (signal.aborted || isLeaseLost(err)) return undefined;
        const record = planningRecordOf(err);
        // The planning record and the failure in one fenced write: a replica that lost the task writes neither.
        await this.o.changes.change(
          rec,
          TaskState.TASK_STATE_FAILED,
          [statusEvent(TaskState.TASK_STATE_FAILED, `planning failed: ${(err as Error).message}`)],
          undefined,
          {
            run,
            alongside: async (tx) => {
              if (record)
                await tx.records.put({
                  id: `${taskId}:planning`,
                  taskId,
                  kind: 'planning',
                  record: PlanningRecord.toJSON(record),
                  principal: this.o.card.name,
                });
            },
          },
        );
        return undefined;
      }
    }
    return plan;
  }
}
