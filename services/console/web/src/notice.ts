import { ApiError } from './api.js';
import { h } from './dom.js';

/** What a person needs to read about a failure: who refused, with which code, and why. */
export function errorNotice(err: unknown, doing: string): HTMLElement {
  const e = err instanceof ApiError ? err : new ApiError(0, 'UNKNOWN', (err as Error)?.message ?? String(err));
  const hint =
    e.code === 'PERMISSION_DENIED'
      ? 'Your roles do not allow this. Ask for the role that grants it, or sign in as someone who has it.'
      : e.code === 'UNAUTHENTICATED'
        ? 'Your session has ended: sign in again.'
        : e.code === 'INVALID_ARGUMENT'
          ? 'Correct the input and try again.'
          : e.code === 'NOT_FOUND'
            ? 'It does not exist, or it is not visible to you.'
            : '';
  return h(
    'div',
    { class: `notice notice-error code-${e.code}`, role: 'alert' },
    h('p', { class: 'notice-title' }, `${doing} was refused: ${e.code}`),
    h('p', {}, e.message),
    hint && h('p', { class: 'hint' }, hint),
  );
}

/** A neutral, polite status line. */
export function infoNotice(text: string): HTMLElement {
  return h('p', { class: 'notice notice-info', role: 'status' }, text);
}
