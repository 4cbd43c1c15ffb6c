import { answerWords, approvalsList } from './approval-facts.js';
import { badge, h, jsonBlock, stateName } from './dom.js';
import { planLevels } from './plan-levels.js';
import type { AttemptJson, DurationJson, ExplanationJson, StepJson } from './types.js';

const ms = (d: DurationJson | undefined) =>
  d ? `${Math.round((d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6)} ms` : '-';

function targetOf(s: StepJson): string {
  if (s.tool) return `tool ${s.tool.service} › ${s.tool.tool}`;
  if (s.agent) return `agent ${s.agent.agent} (${s.agent.skillId})`;
  if (s.llm) return `model ${s.llm.modelAlias}`;
  if (s.human) {
    const who = [
      ...(s.human.approverRoles ?? []).map((r) => `role ${r}`),
      ...(s.human.approverScopes ?? []).map((x) => `scope ${x}`),
    ];
    if (!who.length) return 'a person: the sender';
    const n = Math.max(1, s.human.requiredApprovals ?? 0);
    return `approval by ${n > 1 ? `${n} people with ` : 'a person with '}${who.join(' or ')}`;
  }
  return '?';
}

function attemptsTable(attempts: AttemptJson[], traceLink: (traceId: string) => Node): HTMLElement {
  return h(
    'table',
    { class: 'attempts' },
    h('caption', {}, 'Attempts'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['#', 'Started', 'Took', 'Outcome', 'Trace', 'Child task', 'Idempotency key'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      attempts.map((a) =>
        h(
          'tr',
          {},
          h('td', {}, a.attempt ?? 1),
          h('td', {}, a.startedAt ? new Date(a.startedAt).toLocaleTimeString() : '-'),
          h('td', {}, ms(a.duration)),
          h('td', {}, a.code ?? '-', a.error ? `: ${a.error}` : ''),
          h('td', {}, a.traceId ? traceLink(a.traceId) : '-'),
          h('td', {}, a.childTask ? `${a.childTask.taskId} on ${a.childTask.agent}` : '-'),
          h('td', {}, h('code', {}, a.idempotencyKey ?? '-')),
        ),
      ),
    ),
  );
}

/** The plan as a graph: columns in dependency order, parallel steps side by side, each with its outcome. */
function planGraph(e: ExplanationJson): HTMLElement {
  const steps = e.plan?.steps ?? [];
  const state = new Map((e.execution ?? []).map((x) => [x.stepId, stateName(x.state, 'STEP_STATE_')]));
  return h(
    'ol',
    { class: 'plan-graph', 'aria-label': 'Plan steps in dependency order' },
    planLevels(steps).map((column, i) =>
      h(
        'li',
        { class: 'plan-column' },
        h('span', { class: 'visually-hidden' }, `Stage ${i + 1}: `),
        h(
          'ul',
          {},
          column.map((id) =>
            h(
              'li',
              { class: `plan-node state-${(state.get(id) ?? 'not-run').toLowerCase()}` },
              h('strong', {}, id),
              h('span', {}, state.get(id) ?? 'NOT RUN'),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * The explanation of a task as a tree: goal and planner, the plan as a
 * graph, then one expandable node per step — the collaborator and why it was
 * chosen, the substituted parameters, attempts and timings (trace ids link
 * to the service logs), the output — and the child task on a collaborating
 * agent as a nested, expandable explanation.
 */
export function explanationTree(e: ExplanationJson, traceLink: (traceId: string) => Node, depth = 0): HTMLElement {
  const task = e.task;
  const executions = new Map((e.execution ?? []).map((x) => [x.stepId, x]));
  const planner = e.planning?.playbookId
    ? `playbook ${e.planning.playbookId}`
    : e.planning?.model
      ? `model ${e.planning.model}`
      : stateName(e.plan?.planner, 'PLANNER_KIND_').toLowerCase();
  const steps = (e.plan?.steps ?? []).map((s) => {
    const ex = executions.get(s.id);
    const attempts = ex?.attempts ?? [];
    const st = ex ? stateName(ex.state, 'STEP_STATE_') : 'NOT RUN';
    const choice = (e.collaborators ?? []).find((c) => c.stepId === s.id);
    const subs = (e.substitutions ?? []).filter((x) => x.stepId === s.id);
    const child = (e.children ?? []).find((c) => c.stepId === s.id);
    return h(
      'li',
      { class: 'step' },
      h(
        'details',
        { class: 'step-node' },
        h(
          'summary',
          {},
          h('strong', {}, s.id),
          ` — ${targetOf(s)} `,
          badge(st, st),
          attempts.length ? ` ${attempts.length} attempt(s), ${ms(attempts.at(-1)?.duration)}` : '',
          (task?.approvals ?? [])
            .filter((a) => a.stepId === s.id)
            .map((a) => ` · ${answerWords(a.answer)} by ${a.subject}${a.role ? ` (${a.role})` : ''}`)
            .join(''),
        ),
        h(
          'div',
          { class: 'step-body' },
          s.description ? h('p', {}, h('span', { class: 'k' }, 'Why: '), s.description) : null,
          s.dependsOn?.length ? h('p', {}, h('span', { class: 'k' }, 'After: '), s.dependsOn.join(', ')) : null,
          s.runIf ? h('p', {}, h('span', { class: 'k' }, 'Runs if: '), h('code', {}, s.runIf)) : null,
          choice
            ? h(
                'p',
                {},
                h('span', { class: 'k' }, 'Collaborator: '),
                `${choice.name}${choice.version ? `@${choice.version}` : ''}${choice.address ? ` at ${choice.address}` : ''} — chosen because ${(choice.reasons ?? []).join('; ') || 'the plan named it'}`,
                choice.alternatives?.length ? ` (alternatives: ${choice.alternatives.join(', ')})` : '',
              )
            : null,
          subs.length
            ? h(
                'table',
                { class: 'subs' },
                h('caption', {}, 'Substituted parameters'),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['Parameter', 'From', 'Value'].map((c) => h('th', { scope: 'col' }, c)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  subs.map((x) =>
                    h(
                      'tr',
                      {},
                      h('td', {}, h('code', {}, x.path)),
                      h('td', {}, h('code', {}, x.source ?? x.template ?? '')),
                      h('td', {}, h('code', {}, JSON.stringify(x.value))),
                    ),
                  ),
                ),
              )
            : null,
          s.human && task?.approvals?.some((a) => a.stepId === s.id)
            ? h(
                'div',
                { class: 'step-approvals' },
                h('span', { class: 'k' }, 'Answered: '),
                approvalsList(task.approvals, s.id),
              )
            : null,
          attempts.length ? attemptsTable(attempts, traceLink) : null,
          ex?.reason
            ? h('p', {}, h('span', { class: 'k' }, st === 'SUCCEEDED' ? 'Note: ' : 'Reason: '), ex.reason)
            : null,
          ex?.output !== undefined
            ? h(
                'div',
                {},
                h('span', { class: 'k' }, 'Output (personal data redacted):'),
                jsonBlock(ex.output, `output of ${s.id}`),
              )
            : null,
        ),
        child
          ? h(
              'details',
              { class: 'child-task' },
              h(
                'summary',
                {},
                `Child task ${child.task?.taskId ?? ''} on ${child.task?.agent ?? ''}`,
                child.explanation
                  ? ` — ${stateName(child.explanation.task?.status?.state, 'TASK_STATE_')}`
                  : ' — not available',
              ),
              child.explanation
                ? explanationTree(child.explanation, traceLink, depth + 1)
                : h(
                    'p',
                    { class: 'notice notice-error' },
                    `The collaborator did not explain it: ${child.gap?.code}: ${child.gap?.reason}`,
                  ),
            )
          : null,
      ),
    );
  });
  return h(
    'section',
    {
      class: `explanation depth-${depth}`,
      'aria-label': `Explanation of task ${task?.id ?? ''} on ${task?.agent ?? ''}`,
    },
    h(
      'p',
      { class: 'meta' },
      `Task ${task?.id} on ${task?.agent} (${task?.skillId || 'skill chosen by the agent'}) for ${task?.subject} — `,
      badge(stateName(task?.status?.state, 'TASK_STATE_')),
      ' · trace ',
      task?.traceId ? traceLink(task.traceId) : '-',
    ),
    h(
      'p',
      {},
      h('span', { class: 'k' }, 'Goal: '),
      e.plan?.goal || '-',
      h('span', { class: 'k' }, ' · planned by '),
      planner,
      e.planning?.attempts?.length ? ` (${e.planning.attempts.length} attempt(s))` : '',
    ),
    planGraph(e),
    h('ol', { class: 'steps' }, steps),
  );
}
