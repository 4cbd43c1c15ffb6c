import { PlanningRecord } from '../../gen/agentmesh/v1/explain.js';
import { PlannerKind, PlanStep, TaskPlan, type DeepPartial } from '../../gen/agentmesh/v1/plan.js';
import { Code, MeshError } from '../core/index.js';
import { validatePlan, type PlanValidationOptions } from './plan-validation.js';
import {
  elapsedSince,
  newPlanIdentity,
  noValidPlan,
  throwIfAborted,
  type Planner,
  type PlanningInput,
  type PlanningOutcome,
} from './planner.js';

/**
 * A fixed, pre-approved plan for one skill. Step arguments and prompts keep
 * their ${input...} / ${steps...} templates: the executor substitutes them
 * (and logs every substitution), never the planner.
 */
export interface Playbook {
  /** Recorded as the plan's playbook_id; defaults to the skill id. */
  id?: string;
  /** The objective; ${input.<path>} templates in it are filled from the task input for readers of the plan. */
  goal?: string;
  steps: DeepPartial<PlanStep>[];
  /** Which step's output is the task's result (default: the last step). */
  resultStepId?: string;
}

const GOAL_TEMPLATE = /\$\{input((?:\.[A-Za-z0-9_-]+)*)\}/g;

/** The goal with ${input.<path>} filled in; a path the input lacks stays as written. */
function renderGoal(goal: string, input: Record<string, unknown>): string {
  return goal.replace(GOAL_TEMPLATE, (template, path: string) => {
    let value: unknown = input;
    for (const key of path.split('.').slice(1)) {
      if (value === null || typeof value !== 'object' || !(key in value)) return template;
      value = (value as Record<string, unknown>)[key];
    }
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

/**
 * Plans by looking the skill up in a table of playbooks: the regulated-flow
 * planner and the offline default. The playbook is validated against the
 * inventory in scope on every call, because scope is decided at run time.
 */
export class PlaybookPlanner implements Planner {
  constructor(
    private readonly playbooks: Record<string, Playbook>,
    private readonly options: PlanValidationOptions = {},
  ) {}

  /** Returns the skill's playbook as a plan; INVALID_ARGUMENT for an unknown skill, FAILED_PRECONDITION when it does not validate. */
  async plan(input: PlanningInput, signal?: AbortSignal): Promise<PlanningOutcome> {
    throwIfAborted(signal);
    const playbook = Object.hasOwn(this.playbooks, input.skillId) ? this.playbooks[input.skillId] : undefined;
    if (!playbook) throw new MeshError(Code.INVALID_ARGUMENT, `unknown skill "${input.skillId}"`);
    const started = performance.now();
    const startedAt = new Date();
    const playbookId = playbook.id ?? input.skillId;
    const plan: TaskPlan = {
      ...TaskPlan.fromPartial({}),
      ...newPlanIdentity(input.taskId),
      goal: renderGoal(playbook.goal ?? input.goalHint ?? '', input.input),
      planner: PlannerKind.PLANNER_KIND_PLAYBOOK,
      playbookId,
      steps: playbook.steps.map((s) => PlanStep.fromPartial(s)),
      resultStepId: playbook.resultStepId ?? '',
    };
    const errors = validatePlan(plan, input.inventory, this.options);
    const record = PlanningRecord.fromPartial({
      planner: PlannerKind.PLANNER_KIND_PLAYBOOK,
      playbookId,
      attempts: [
        {
          attempt: 1,
          rawOutput: JSON.stringify(TaskPlan.toJSON(plan)),
          validationErrors: errors,
          startedAt,
          duration: elapsedSince(started),
        },
      ],
    });
    if (errors.length > 0)
      throw noValidPlan(
        errors.map((e) => `playbook "${playbookId}": ${e}`),
        record,
      );
    return { plan, record };
  }
}
