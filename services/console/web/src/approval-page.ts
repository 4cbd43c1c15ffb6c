import { agentPath, api, type SessionInfo } from './api.js';
import { answerForm } from './answer-form.js';
import { answerWords, approvalCount, approvalsList, timeOf, whoMayAnswer, whyNotYou } from './approval-facts.js';
import type { InboxJson } from './approvals.js';
import { badge, h, replace, stateName } from './dom.js';
import { explanationTree } from './explanation-tree.js';
import { errorNotice, infoNotice } from './notice.js';
import type { ExplanationJson, TaskJson } from './types.js';

const fact = (term: string, ...value: (Node | string | null)[]) => [h('dt', {}, term), h('dd', {}, ...value)];

/**
 * One waiting task, for the person who may answer it: the question, who
 * sent it, who may answer and who has, the deadline, the evidence (the
 * explanation so far, as the agent gives it to this person) and the answer
 * buttons — offered only when the agent lists the task as waiting for this
 * person; otherwise the page says why not.
 */
export function approvalPage(main: HTMLElement, agent: string, taskId: string, session: SessionInfo): void {
  const base = `${agentPath(agent)}/tasks/${encodeURIComponent(taskId)}`;
  const taskHref = `#/task/${agent}/${encodeURIComponent(taskId)}`;
  const head = h('section', { 'aria-labelledby': 'approval-title' }, infoNotice('Reading the task…'));
  const answer = h('section', { class: 'approval-answer', 'aria-live': 'assertive' });
  const evidence = h('section', { 'aria-labelledby': 'evidence-title' });
  replace(
    main,
    h(
      'p',
      { class: 'crumbs' },
      h('a', { href: '#/approvals' }, 'Approvals'),
      ' › ',
      h('a', { href: `#/agent/${agent}` }, agent),
      ' › ',
      h('a', { href: taskHref }, 'task'),
    ),
    h('h1', {}, `Approval on ${agent}`),
    head,
    answer,
    evidence,
  );

  const show = (task: TaskJson, offered: boolean) => {
    const r = task.status?.inputRequest;
    const state = stateName(task.status?.state, 'TASK_STATE_');
    replace(
      head,
      h('h2', { id: 'approval-title', class: 'question' }, r?.prompt ?? 'This task does not wait for an answer'),
      h(
        'dl',
        { class: 'facts approval-facts' },
        fact('Task', h('a', { href: taskHref }, h('code', {}, task.id)), ' ', badge(state)),
        fact('Sent by', task.subject ?? '-'),
        r ? fact('Step', h('code', {}, r.stepId)) : [],
        r ? fact('Who may answer', whoMayAnswer(r, task)) : [],
        r ? fact('Approvals so far', approvalCount(r), approvalsList(r.approvals)) : [],
        r ? fact('Deadline', timeOf(r.expiresAt)) : [],
        fact('Waiting since', timeOf(task.status?.timestamp)),
        task.approvals?.length ? fact('Answered', approvalsList(task.approvals)) : [],
      ),
    );
    if (!r) return replace(answer, infoNotice(`This task no longer waits for an answer: it is ${state}.`));
    if (!offered) {
      const why = whyNotYou(r, task, session) ?? 'The agent does not list this task as waiting for you.';
      return replace(
        answer,
        h('p', { class: 'notice notice-info not-yours', role: 'status' }, `You cannot answer this step. ${why}`),
      );
    }
    replace(
      answer,
      h('h2', {}, 'Your answer'),
      answerForm(agent, task.id, r, (after, given) => {
        const now = stateName(after.status?.state, 'TASK_STATE_');
        replace(
          answer,
          h(
            'p',
            { class: 'notice notice-info answered', role: 'status' },
            `You ${answerWords(given)} as ${session.user}. The task is ${now}. `,
            h('a', { href: taskHref }, 'Follow the task'),
          ),
        );
      }),
    );
  };

  Promise.all([
    api<{ task: TaskJson }>('GET', base),
    api<InboxJson>('GET', `/api/approvals?agent=${encodeURIComponent(agent)}`).catch(() => undefined),
  ]).then(
    ([{ task }, inbox]) => show(task, !!inbox?.tasks.some((t) => t.task.id === task.id)),
    (err: unknown) => replace(head, errorNotice(err, 'Opening the task')),
  );
  replace(evidence, h('h2', { id: 'evidence-title' }, 'Evidence'), infoNotice('Asking the agent to explain…'));
  api<{ explanation: ExplanationJson }>('GET', `${base}/explanation?depth=4`).then(
    ({ explanation }) =>
      replace(
        evidence,
        h('h2', { id: 'evidence-title' }, 'Evidence'),
        h(
          'p',
          { class: 'hint' },
          'What the agent has done so far: its plan, each step’s collaborator, inputs and output.',
        ),
        explanationTree(explanation, (traceId) => h('code', {}, traceId)),
      ),
    (err: unknown) =>
      replace(evidence, h('h2', { id: 'evidence-title' }, 'Evidence'), errorNotice(err, 'Explaining the task')),
  );
}
