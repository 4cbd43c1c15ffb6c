import { agentPath, api } from './api.js';
import { h, replace } from './dom.js';
import { errorNotice } from './notice.js';
import { fieldsOf, inputOf, type FormValues } from './schema-form.js';
import { control } from './skill-form.js';
import type { InputRequestJson, TaskJson } from './types.js';

/**
 * The ways to answer a waiting step, as the agent asks for them: one button
 * per choice (the first, e.g. "approve", is the primary one), a form
 * generated from the answer schema, or free text. The answer goes to the
 * agent's ProvideInput through the console; a refusal (another approver was
 * first, the deadline passed, four eyes) is shown with the agent's reason.
 */
export function answerForm(
  agent: string,
  taskId: string,
  request: InputRequestJson,
  onAnswered: (task: TaskJson, answer: unknown) => void,
): HTMLElement {
  const status = h('div', { class: 'form-status', 'aria-live': 'assertive' });
  const buttons: HTMLButtonElement[] = [];
  const send = (answer: unknown) => {
    for (const b of buttons) b.disabled = true;
    replace(status, 'Sending your answer…');
    api<{ task: TaskJson }>('POST', `${agentPath(agent)}/tasks/${encodeURIComponent(taskId)}/input`, {
      stepId: request.stepId,
      answer,
    }).then(
      ({ task }) => {
        replace(status);
        onAnswered(task, answer);
      },
      (err: unknown) => {
        for (const b of buttons) b.disabled = false;
        replace(status, errorNotice(err, 'Your answer'));
      },
    );
  };
  const choices = request.choices ?? [];
  if (choices.length) {
    buttons.push(
      ...choices.map((c, i) =>
        h(
          'button',
          { type: 'button', class: i === 0 ? 'choice-button' : 'choice-button secondary', onclick: () => send(c) },
          c,
        ),
      ),
    );
    return h('div', { class: 'answer-choices', role: 'group', 'aria-label': 'Your answer' }, buttons, status);
  }
  const fields = fieldsOf(request.inputSchema);
  const controls = fields.map((f, i) => {
    const id = `answer-field-${i}`;
    const el = control(f, id, `${id}-error`);
    const error = h('span', { id: `${id}-error`, class: 'field-error' });
    const label = h('label', { for: id }, f.label || 'Answer (JSON)');
    return {
      f,
      el,
      error,
      wrap: h('div', { class: `field field-${f.kind}` }, f.kind === 'boolean' ? [el, label] : [label, el], error),
    };
  });
  const free = h('textarea', { id: 'answer-free', rows: 3 });
  const submit = h('button', { type: 'submit' }, 'Send answer');
  buttons.push(submit);
  const form = h(
    'form',
    { class: 'answer-form', 'aria-label': 'Your answer', novalidate: true },
    controls.length ? controls.map((c) => c.wrap) : [h('label', { for: free.id }, 'Your answer'), free],
    submit,
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!controls.length) {
      const text = free.value.trim();
      if (!text) return replace(status, h('p', { class: 'field-error', role: 'alert' }, 'Write an answer first.'));
      return send(text);
    }
    const values: FormValues = {};
    for (const c of controls)
      values[c.f.name] = c.el instanceof HTMLInputElement && c.el.type === 'checkbox' ? c.el.checked : c.el.value;
    const { input, errors } = inputOf(fields, values);
    for (const c of controls)
      c.error.textContent = errors[c.f.name] ? `${c.f.label || 'Answer'} ${errors[c.f.name]}` : '';
    const bad = controls.find((c) => errors[c.f.name]);
    if (bad) return bad.el.focus();
    send(input);
  });
  return form;
}
