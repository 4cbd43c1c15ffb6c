import { agentPath, api } from './api.js';
import { h, replace } from './dom.js';
import { errorNotice } from './notice.js';
import { fieldsOf, inputOf, valuesOf, type Field, type FormValues } from './schema-form.js';
import type { SkillJson, TaskJson } from './types.js';

/** The input of one generated field (also used for an answer schema). */
export function control(
  f: Field,
  id: string,
  described: string,
): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
  const common = {
    id,
    name: f.name || 'input',
    required: f.required && f.kind !== 'boolean',
    'aria-describedby': described,
  };
  switch (f.kind) {
    case 'choice':
      return h(
        'select',
        common,
        h('option', { value: '' }, f.required ? '(choose)' : '(none)'),
        f.options.map((o) => h('option', { value: o }, o)),
      );
    case 'number':
      return h('input', {
        ...common,
        type: 'number',
        step: f.integer ? 1 : 'any',
        min: f.min ?? f.exclusiveMin,
        max: f.max ?? f.exclusiveMax,
        inputmode: f.integer ? 'numeric' : 'decimal',
      });
    case 'boolean':
      return h('input', { ...common, type: 'checkbox' });
    case 'json':
      return h('textarea', { ...common, rows: 4, spellcheck: 'false' });
    default:
      // No `pattern` attribute: the browser anchors it and compiles it with the `v` flag, a JSON Schema
      // pattern is unanchored and may not compile so; inputOf checks it with the schema's meaning.
      return h('input', {
        ...common,
        type: 'text',
        minlength: f.minLength,
        maxlength: f.maxLength,
        autocomplete: 'off',
      });
  }
}

/** The form generated from a skill's input schema: fill it (or take an example) and send the task to the agent. */
export function skillForm(agent: string, skill: SkillJson, onSent: (task: TaskJson) => void): HTMLElement {
  const fields = fieldsOf(skill.inputSchema);
  const prefix = `f-${skill.id}`;
  const controls = fields.map((f, i) => {
    const id = `${prefix}-${i}`;
    const errorId = `${id}-error`;
    const el = control(f, id, `${id}-hint ${errorId}`);
    const error = h('span', { id: errorId, class: 'field-error' });
    const hint = [
      f.description,
      f.kind === 'text' && f.pattern ? `format ${f.pattern}` : '',
      f.kind === 'number' && f.integer ? 'whole number' : '',
    ]
      .filter(Boolean)
      .join(' · ');
    const label = h(
      'label',
      { for: id },
      f.label || 'Input (JSON)',
      f.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : '',
    );
    const wrap = h(
      'div',
      { class: `field field-${f.kind}` },
      f.kind === 'boolean' ? [el, label] : [label, el],
      h('span', { id: `${id}-hint`, class: 'hint' }, hint),
      error,
    );
    return { f, el, error, wrap };
  });
  const text = h('input', { id: `${prefix}-text`, name: 'text', type: 'text', autocomplete: 'off' });
  const status = h('div', { class: 'form-status', 'aria-live': 'assertive' });
  const fill = (values: FormValues) => {
    for (const c of controls) {
      const v = values[c.f.name];
      if (c.el instanceof HTMLInputElement && c.el.type === 'checkbox') c.el.checked = v === true;
      else c.el.value = typeof v === 'string' ? v : '';
    }
  };
  const examples = (skill.examples ?? []).map((e, i) =>
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          fill(valuesOf(fields, e.input ?? {}));
          text.value = e.text ?? '';
          controls[0]?.el.focus();
        },
      },
      `Use example ${i + 1}: ${e.title ?? ''}`,
    ),
  );
  const send = h('button', { type: 'submit' }, 'Send task');
  const form = h(
    'form',
    { class: 'skill-form', 'aria-label': `Send a task to ${agent}: ${skill.name ?? skill.id}`, novalidate: true },
    examples.length ? h('div', { class: 'examples' }, examples) : null,
    controls.map((c) => c.wrap),
    h('div', { class: 'field' }, h('label', { for: text.id }, 'Request text (optional)'), text),
    send,
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const values: FormValues = {};
    for (const c of controls)
      values[c.f.name] = c.el instanceof HTMLInputElement && c.el.type === 'checkbox' ? c.el.checked : c.el.value;
    const { input, errors } = inputOf(fields, values);
    for (const c of controls) {
      c.error.textContent = errors[c.f.name] ? `${c.f.label || 'Input'} ${errors[c.f.name]}` : '';
      c.el.setAttribute('aria-invalid', String(Boolean(errors[c.f.name])));
    }
    const firstBad = controls.find((c) => errors[c.f.name]);
    if (firstBad) {
      firstBad.el.focus();
      return;
    }
    send.disabled = true;
    replace(status, 'Sending…');
    api<{ task: TaskJson }>('POST', `${agentPath(agent)}/tasks`, {
      skillId: skill.id,
      input,
      text: text.value.trim(),
      requestId: crypto.randomUUID(),
    }).then(
      ({ task }) => onSent(task),
      (err: unknown) => {
        send.disabled = false;
        replace(status, errorNotice(err, `Sending the task to ${agent}`));
      },
    );
  });
  return form;
}
