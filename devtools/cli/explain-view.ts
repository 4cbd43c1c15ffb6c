import type { Explanation, StepExecution } from '../../gen/agentmesh/v1/explain.js';
import { StepState, type PlanStep } from '../../gen/agentmesh/v1/plan.js';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { approvalCount, approvalLine, deadlineText, isApproval, whoMayAnswer } from './approval-view.js';

const stateName = (s: StepState) => StepState[s].replace('STEP_STATE_', '');
const ms = (d: { seconds: number; nanos: number } | undefined) =>
  d ? `${Math.round(d.seconds * 1000 + d.nanos / 1e6)} ms` : '';
const json = (v: unknown) => {
  const text = JSON.stringify(v) ?? 'null';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
};

function targetOf(step: PlanStep): string {
  const t = step.target;
  if (t?.$case === 'tool') return `tool ${t.tool.service}#${t.tool.tool}`;
  if (t?.$case === 'agent') return `agent ${t.agent.agent} (${t.agent.skillId})`;
  if (t?.$case === 'llm') return `llm ${t.llm.modelAlias}`;
  if (t?.$case === 'human') {
    const h = t.human;
    const who = [...h.approverRoles.map((r) => `role ${r}`), ...h.approverScopes.map((x) => `scope ${x}`)];
    return who.length ? `human approval (${who.join(' or ')})` : 'human';
  }
  return '?';
}

/** The step the explained task waits on for a person, if it does. */
const waitsOn = (e: Explanation): string | undefined =>
  e.task?.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED ? e.task.status.inputRequest?.stepId : undefined;

/** The explanation tree as a person reads it: plan, each step with collaborator and why, substitutions, attempts, child tasks. */
export function renderExplanation(e: Explanation, indent = ''): string[] {
  const out: string[] = [];
  const task = e.task;
  out.push(
    `${indent}task ${task?.id} on ${task?.agent} (${task?.skillId}): ${TaskState[task?.status?.state ?? 0]?.replace('TASK_STATE_', '')}  subject ${task?.subject}  trace ${task?.traceId || '-'}`,
  );
  if (e.plan) out.push(`${indent}  goal: ${e.plan.goal || '-'}`);
  const planning = e.planning;
  if (planning) {
    const how = planning.playbookId ? `playbook ${planning.playbookId}` : `model ${planning.model}`;
    const usage = planning.attempts.reduce(
      (n, a) => n + (a.usage?.promptTokens ?? 0) + (a.usage?.completionTokens ?? 0),
      0,
    );
    out.push(`${indent}  planned by ${how}: ${planning.attempts.length} attempt(s)${usage ? `, ${usage} tokens` : ''}`);
    for (const a of planning.attempts.filter((x) => x.validationErrors.length))
      out.push(`${indent}    attempt ${a.attempt} refused: ${a.validationErrors.join('; ')}`);
  }
  const executions = new Map<string, StepExecution>(e.execution.map((x) => [x.stepId, x]));
  for (const step of e.plan?.steps ?? []) {
    const ex = executions.get(step.id);
    const attempts = ex?.attempts ?? [];
    const time = attempts.length ? `, ${ms(attempts.at(-1)?.duration)}` : '';
    out.push(
      `${indent}  - ${step.id}: ${targetOf(step)}  ${ex ? stateName(ex.state) : waitsOn(e) === step.id ? 'WAITING' : 'NOT RUN'}${attempts.length ? ` (${attempts.length} attempt${attempts.length > 1 ? 's' : ''}${time})` : ''}`,
    );
    if (step.description) out.push(`${indent}      why: ${step.description}`);
    if (step.dependsOn.length) out.push(`${indent}      after: ${step.dependsOn.join(', ')}`);
    const choice = e.collaborators.find((c) => c.stepId === step.id);
    if (choice && choice.address)
      out.push(
        `${indent}      collaborator: ${choice.name}${choice.version ? `@${choice.version}` : ''} at ${choice.address}: ${choice.reasons.join('; ')}${choice.alternatives.length ? ` (alternatives: ${choice.alternatives.join(', ')})` : ''}`,
      );
    for (const s of e.substitutions.filter((x) => x.stepId === step.id))
      out.push(`${indent}      ${s.path} <- ${s.source} = ${json(s.value)}`);
    for (const a of attempts.filter((x) => x.code !== 'OK'))
      out.push(`${indent}      attempt ${a.attempt}: ${a.code} ${a.error}`);
    const model = attempts.find((a) => a.model);
    if (model)
      out.push(
        `${indent}      model ${model.model}: ${model.usage?.promptTokens ?? 0} prompt + ${model.usage?.completionTokens ?? 0} completion tokens`,
      );
    // Who answered a human step, with which role and when: the record a four-eyes control needs.
    for (const a of task?.approvals.filter((x) => x.stepId === step.id) ?? [])
      out.push(`${indent}      ${approvalLine(a)}`);
    const waiting = task?.status?.inputRequest;
    if (waiting && waitsOn(e) === step.id && isApproval(waiting))
      out.push(
        `${indent}      waits for: ${whoMayAnswer(waiting, task.subject)}; ${approvalCount(waiting)} so far; deadline ${deadlineText(waiting.expiresAt)}`,
      );
    if (ex?.reason)
      out.push(`${indent}      ${ex.state === StepState.STEP_STATE_SUCCEEDED ? 'note' : 'reason'}: ${ex.reason}`);
    if (ex?.state === StepState.STEP_STATE_SUCCEEDED && ex.output !== undefined)
      out.push(`${indent}      output: ${json(ex.output)}`);
    const child = e.children.find((c) => c.stepId === step.id);
    if (child?.result?.$case === 'explanation')
      out.push(...renderExplanation(child.result.explanation, `${indent}      `));
    else if (child?.result?.$case === 'gap')
      out.push(
        `${indent}      child task ${child.task?.taskId} on ${child.task?.agent}: NOT AVAILABLE (${child.result.gap.code}: ${child.result.gap.reason})`,
      );
  }
  return out;
}
