import { api } from './api.js';
import { approvalCount, timeOf, whoMayAnswer } from './approval-facts.js';
import { h, replace } from './dom.js';
import { errorNotice, infoNotice } from './notice.js';
import type { TaskJson } from './types.js';

/** What GET /api/approvals answers. */
export interface InboxJson {
  tasks: { agent: string; task: TaskJson }[];
  warnings: { agent: string; code: string; message: string }[];
  agents: number;
}

/** The link to a waiting task's approval page. */
export const approvalHref = (agent: string, taskId: string) => `#/approvals/${agent}/${encodeURIComponent(taskId)}`;

function row({ agent, task }: InboxJson['tasks'][number]): HTMLElement {
  const r = task.status?.inputRequest ?? { stepId: '' };
  return h(
    'tr',
    {},
    h('td', {}, agent),
    h('td', {}, h('a', { href: approvalHref(agent, task.id) }, h('code', {}, task.id)), ` (${r.stepId})`),
    h('td', { class: 'question' }, r.prompt ?? ''),
    h('td', {}, whoMayAnswer(r, task)),
    h('td', {}, approvalCount(r)),
    h('td', {}, timeOf(r.expiresAt)),
    h('td', {}, task.subject ?? '-'),
  );
}

/**
 * The approvals view: every task, on every agent the registry lists, that
 * waits for an answer the signed-in person may give now (each agent decides,
 * through ListTasks waiting_for_me with the person's token). Agents that
 * could not be asked are named with the reason, above the list.
 */
export function approvalsView(main: HTMLElement): void {
  const list = h('section', { 'aria-labelledby': 'approvals-count', 'aria-live': 'polite' });
  replace(
    main,
    h('h1', {}, 'Approvals'),
    h(
      'p',
      {},
      'The tasks waiting for your answer on every agent of the mesh: approvals your roles entitle you to give (never on a task you sent) and questions to you. The nearest deadline comes first.',
    ),
    list,
  );
  replace(list, infoNotice('Asking every agent what waits for you…'));
  api<InboxJson>('GET', '/api/approvals').then(
    ({ tasks, warnings, agents }) =>
      replace(
        list,
        warnings.map((w) =>
          h(
            'div',
            { class: 'notice notice-error agent-warning', role: 'alert' },
            h('p', { class: 'notice-title' }, `${w.agent} could not be asked: ${w.code}`),
            h('p', {}, w.message),
          ),
        ),
        h(
          'h2',
          { id: 'approvals-count' },
          `${tasks.length} waiting for you (${agents} agent${agents === 1 ? '' : 's'} asked)`,
        ),
        tasks.length
          ? h(
              'table',
              { class: 'approvals-list' },
              h('caption', { class: 'visually-hidden' }, 'Tasks waiting for your answer'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Agent', 'Task (step)', 'Question', 'Who may answer', 'Approvals', 'Deadline', 'Sent by'].map((c) =>
                    h('th', { scope: 'col' }, c),
                  ),
                ),
              ),
              h('tbody', {}, tasks.map(row)),
            )
          : h('p', { class: 'empty' }, 'Nothing waits for you.'),
      ),
    (err: unknown) => replace(list, errorNotice(err, 'Reading your approvals')),
  );
}
