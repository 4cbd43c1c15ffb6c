import { agentPath, api, ApiError, type SessionInfo } from './api.js';
import { approvalCount, approvalsList, isApproval, timeOf, whoMayAnswer, whyNotYou } from './approval-facts.js';
import { approvalHref } from './approvals.js';
import { badge, h, jsonBlock, replace, stateName } from './dom.js';
import { explanationTree } from './explanation-tree.js';
import { errorNotice, infoNotice } from './notice.js';
import type { ExplanationJson, TaskJson } from './types.js';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELED', 'REJECTED']);

interface TaskEventJson {
  sequence?: number;
  task?: TaskJson;
  statusUpdate?: { status?: TaskJson['status']; final?: boolean };
  planCreated?: { plan?: { steps?: { id: string }[] } };
  stepStarted?: { stepId: string; attempt?: number };
  stepFinished?: { stepId: string; state?: string; reason?: string };
}

interface LogLineJson {
  service: string;
  time: string;
  level: string;
  msg: string;
  fields: Record<string, string>;
}

const textOf = (parts: { text?: string }[] | undefined) =>
  (parts ?? [])
    .map((p) => p.text ?? '')
    .filter(Boolean)
    .join(' ');

/**
 * A task, live: its state and steps as they happen (server-sent events
 * bridged from SubscribeTask), the question when it waits for a person (with
 * a form that answers it, or why this person may not), who answered with
 * which role and when, the result, the explanation tree and the service
 * logs of its trace. Returns a cleanup that closes the event stream.
 */
export function taskView(main: HTMLElement, agent: string, taskId: string, session: SessionInfo): () => void {
  const base = `${agentPath(agent)}/tasks/${encodeURIComponent(taskId)}`;
  const state = h('span', { id: 'task-state' }, badge('…'));
  const progress = h('ol', { class: 'progress', 'aria-label': 'Progress' });
  const question = h('section', { 'aria-live': 'assertive' });
  const outcome = h('section', { 'aria-live': 'polite' });
  const answers = h('section', { class: 'answers', 'aria-labelledby': 'answers-title' });
  const showAnswers = (task: TaskJson) =>
    replace(
      answers,
      task.approvals?.length ? [h('h2', { id: 'answers-title' }, 'Answers'), approvalsList(task.approvals)] : [],
    );
  const explanation = h('section', { 'aria-labelledby': 'explanation-title' });
  const logs = h('section', { id: 'logs', 'aria-labelledby': 'logs-title', tabindex: -1 });
  const line = (text: string) => progress.append(h('li', {}, text));
  let lastState = '';

  const showLogs = () => {
    replace(
      logs,
      h('h2', { id: 'logs-title' }, 'Service logs of this trace'),
      infoNotice('Reading the services’ logs…'),
    );
    logs.focus();
    api<{ traceId: string; lines: LogLineJson[] }>('GET', `${base}/logs`).then(
      ({ traceId, lines }) =>
        replace(
          logs,
          h('h2', { id: 'logs-title' }, `Service logs of trace ${traceId}`),
          lines.length
            ? h(
                'table',
                { class: 'logs' },
                h(
                  'caption',
                  {},
                  `${lines.length} line(s) from ${new Set(lines.map((l) => l.service)).size} service(s)`,
                ),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['Time', 'Service', 'Level', 'Message', 'Details'].map((c) => h('th', { scope: 'col' }, c)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  lines.map((l) =>
                    h(
                      'tr',
                      { class: `level-${l.level}` },
                      h('td', {}, l.time.slice(11, 23)),
                      h('td', {}, l.service),
                      h('td', {}, l.level),
                      h('td', {}, l.msg),
                      h(
                        'td',
                        {},
                        Object.entries(l.fields)
                          .map(([k, v]) => `${k}=${v}`)
                          .join(' '),
                      ),
                    ),
                  ),
                ),
              )
            : h('p', {}, 'No log lines carry this trace id (yet).'),
        ),
      (err: unknown) =>
        replace(logs, h('h2', { id: 'logs-title' }, 'Service logs'), errorNotice(err, 'Reading the logs')),
    );
  };
  const traceLink = (traceId: string) =>
    h(
      'button',
      { type: 'button', class: 'link', onclick: showLogs, title: 'show the service logs of this trace' },
      h('code', {}, traceId),
    );

  const explain = () => {
    replace(
      explanation,
      h('h2', { id: 'explanation-title' }, 'Explanation'),
      infoNotice('Asking the agent to explain…'),
    );
    api<{ explanation: ExplanationJson }>('GET', `${base}/explanation?depth=4`).then(
      ({ explanation: e }) =>
        replace(
          explanation,
          h('h2', { id: 'explanation-title' }, 'Explanation'),
          h(
            'p',
            { class: 'hint' },
            'Expand a step for its collaborator, parameters, attempts and output; expand a child task for what the collaborating agent did.',
          ),
          explanationTree(e, traceLink),
          h('button', { type: 'button', class: 'secondary', onclick: explain }, 'Refresh the explanation'),
        ),
      (err: unknown) =>
        replace(
          explanation,
          h('h2', { id: 'explanation-title' }, 'Explanation'),
          errorNotice(err, 'Explaining the task'),
        ),
    );
  };

  const askPerson = (task: TaskJson) => {
    const request = task.status?.inputRequest;
    showAnswers(task);
    if (!request) return;
    const approval = isApproval(request);
    const facts = approval
      ? h(
          'p',
          { class: 'meta approval-meta' },
          `Who may answer: ${whoMayAnswer(request, task)} · approvals ${approvalCount(request)} · deadline `,
          timeOf(request.expiresAt),
          ' · ',
          h('a', { href: approvalHref(agent, task.id) }, 'open it in Approvals'),
        )
      : null;
    const whyNot = whyNotYou(request, task, session);
    if (whyNot) {
      replace(
        question,
        h(
          'div',
          { class: 'card answer', 'aria-labelledby': 'question-title' },
          h('h2', { id: 'question-title' }, approval ? 'Waiting for an approval' : 'Waiting for an answer'),
          h('p', { class: 'question' }, request.prompt ?? ''),
          facts,
          approvalsList(request.approvals),
          h('p', { class: 'notice notice-info not-yours', role: 'status' }, `You cannot answer this step. ${whyNot}`),
        ),
      );
      return;
    }
    const status = h('div', { 'aria-live': 'assertive' });
    const choices = request.choices ?? [];
    const free = h('textarea', { id: 'answer-text', rows: 3, required: true });
    const form = h(
      'form',
      { class: 'card answer', 'aria-labelledby': 'question-title', novalidate: true },
      h('h2', { id: 'question-title' }, 'A person is needed'),
      h('p', { class: 'question' }, request.prompt ?? ''),
      facts,
      approvalsList(request.approvals),
      choices.length
        ? h(
            'fieldset',
            {},
            h('legend', {}, 'Your answer'),
            choices.map((c, i) =>
              h(
                'div',
                { class: 'choice' },
                h('input', { type: 'radio', name: 'answer', id: `answer-${i}`, value: c, required: true }),
                h('label', { for: `answer-${i}` }, c),
              ),
            ),
          )
        : [h('label', { for: 'answer-text' }, 'Your answer'), free],
      h('button', { type: 'submit' }, 'Send answer'),
      status,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const picked = form.querySelector<HTMLInputElement>('input[name=answer]:checked')?.value ?? free.value.trim();
      if (!picked) {
        replace(status, h('p', { class: 'field-error', role: 'alert' }, 'Choose or write an answer first.'));
        return;
      }
      api<{ task: TaskJson }>('POST', `${base}/input`, { stepId: request.stepId, answer: picked }).then(
        () => replace(question, infoNotice(`Answered “${picked}”: the task goes on.`)),
        (err: unknown) => replace(status, errorNotice(err, 'Answering')),
      );
    });
    replace(question, form);
  };

  let finished = false;
  const onState = (s: TaskJson['status'], task?: TaskJson) => {
    const name = stateName(s?.state, 'TASK_STATE_');
    // The snapshot that opens the stream is where the task stands, not a step of its history.
    if (!task) line(`task ${name}`);
    if (name === lastState || finished) return;
    lastState = name;
    replace(state, badge(name));
    if (name === 'INPUT_REQUIRED')
      void (task ? Promise.resolve({ task }) : api<{ task: TaskJson }>('GET', base)).then(
        ({ task: t }) => askPerson(t),
        (err: unknown) => replace(question, errorNotice(err, 'Reading the question')),
      );
    else if (!TERMINAL.has(name)) replace(question);
    if (TERMINAL.has(name)) {
      finished = true;
      replace(question);
      void api<{ task: TaskJson }>('GET', base).then(({ task: t }) => {
        showAnswers(t);
        const data = t.artifacts?.[0]?.parts?.find((p) => p.data !== undefined)?.data;
        const why = textOf(t.status?.message?.parts);
        replace(
          outcome,
          h('h2', {}, name === 'COMPLETED' ? 'Result' : 'Outcome'),
          why ? h('p', {}, why) : null,
          data !== undefined ? jsonBlock(data, 'result') : null,
        );
      });
      explain();
    }
  };

  replace(
    main,
    h(
      'p',
      { class: 'crumbs' },
      h('a', { href: '#/' }, 'Marketplace'),
      ' › ',
      h('a', { href: `#/agent/${agent}` }, agent),
      ' › task',
    ),
    h('h1', {}, `Task on ${agent}`),
    h('p', { class: 'meta' }, 'Task ', h('code', {}, taskId), ' — state: ', state),
    question,
    h('h2', {}, 'Progress'),
    progress,
    outcome,
    answers,
    explanation,
    logs,
  );
  const es = new EventSource(`${base}/events`);

  es.addEventListener('task', (m) => {
    const ev = JSON.parse((m as MessageEvent<string>).data) as TaskEventJson;
    if (ev.task) onState(ev.task.status, ev.task);
    if (ev.planCreated) line(`plan: ${(ev.planCreated.plan?.steps ?? []).map((s) => s.id).join(' → ')}`);
    if (ev.stepStarted)
      line(
        `step ${ev.stepStarted.stepId} started${(ev.stepStarted.attempt ?? 1) > 1 ? ` (attempt ${ev.stepStarted.attempt})` : ''}`,
      );
    if (ev.stepFinished)
      line(
        `step ${ev.stepFinished.stepId} ${stateName(ev.stepFinished.state, 'STEP_STATE_').toLowerCase()}${ev.stepFinished.reason ? `: ${ev.stepFinished.reason}` : ''}`,
      );
    if (ev.statusUpdate) onState(ev.statusUpdate.status);
  });
  es.addEventListener('end', () => es.close());
  es.addEventListener('failure', (m) => {
    es.close();
    const f = JSON.parse((m as MessageEvent<string>).data) as { code: string; message: string };
    progress.after(errorNotice(new ApiError(0, f.code, f.message), 'Following the task'));
  });
  es.onerror = () => {
    // A refused subscription (not found, not allowed) is an HTTP error: show why, do not retry blindly.
    if (es.readyState === EventSource.CLOSED && !lastState) {
      api<{ task: TaskJson }>('GET', base).catch((err: unknown) =>
        replace(main, h('h1', {}, `Task on ${agent}`), errorNotice(err, 'Opening the task')),
      );
    }
  };
  return () => es.close();
}
