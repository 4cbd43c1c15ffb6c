import {
  CollaboratorChoice,
  Explanation,
  PlanningRecord,
  StepExecution,
  Substitution,
} from '../../gen/agentmesh/v1/explain.js';
import { TaskPlan, type PlanStep } from '../../gen/agentmesh/v1/plan.js';
import type { Store } from '../state/index.js';
import { redactDeep } from '../telemetry/index.js';
import { toTask } from './task-codec.js';

/** The collaborator a plan step names, for a person reading the explanation. */
function collaboratorOf(step: PlanStep): string | undefined {
  const t = step.target;
  if (t?.$case === 'tool') return `${t.tool.service}#${t.tool.tool}`;
  if (t?.$case === 'agent') return `${t.agent.agent} (skill ${t.agent.skillId})`;
  if (t?.$case === 'llm') return `model alias ${t.llm.modelAlias}`;
  return undefined;
}

/**
 * Assembles a task's explainability record from what was persisted: the
 * plan in force, how it was made, the collaborators of its steps, every
 * substitution and every step's attempts. Child explanations are fetched by
 * the caller (they need the caller's authority).
 */
export async function explainTask(store: Store, taskId: string): Promise<Explanation> {
  const task = toTask(await store.tasks.get(taskId));
  const planRecord = await store.plans.latest(taskId);
  const plan = planRecord ? TaskPlan.fromJSON(planRecord.plan) : undefined;
  const records = await store.records.list(taskId);
  const planning = records.find((r) => r.kind === 'planning');
  // Outputs are stored as they were (a resumed task needs them); what leaves in an explanation is redacted.
  const execution = records
    .filter((r) => r.kind === 'step')
    .map((r) => StepExecution.fromJSON(r.record))
    .map((e) => ({ ...e, output: redactDeep(e.output) }));
  const substitutions = records
    .filter((r) => r.kind === 'substitution')
    .flatMap((r) => (r.record as unknown[]).map((s) => Substitution.fromJSON(s)));
  const chosen = new Map(
    records
      .filter((r) => r.kind === 'choice')
      .map((r) => {
        const c = CollaboratorChoice.fromJSON(r.record);
        return [c.stepId, c];
      }),
  );
  const planned = `named by the ${plan?.playbookId ? `playbook ${plan.playbookId}` : plan?.model ? `plan of model ${plan.model}` : 'plan'}`;
  const collaborators: CollaboratorChoice[] = (plan?.steps ?? []).flatMap((step) => {
    const name = collaboratorOf(step);
    if (!name) return [];
    const found = chosen.get(step.id);
    // The plan decided which collaborator; discovery (or a static route) decided which instance.
    return [
      found
        ? { ...found, reasons: [planned, ...found.reasons] }
        : { stepId: step.id, name, version: '', address: '', reasons: [planned], score: 0, alternatives: [] },
    ];
  });
  return Explanation.fromPartial({
    task,
    plan,
    planning: planning ? PlanningRecord.fromJSON(planning.record) : undefined,
    collaborators,
    substitutions,
    execution,
    children: [],
  });
}
