import { StepState } from '../../gen/agentmesh/v1/plan.js';
import type { StepTransition } from '../state/index.js';
import { interruptedSteps } from './interrupted-steps.js';

let sequence = 0;
const row = (stepId: string, attempt: number, detail: Record<string, unknown>, state = StepState.STEP_STATE_RUNNING) =>
  ({
    taskId: 't',
    sequence: ++sequence,
    stepId,
    state,
    attempt,
    detail,
    principal: 'agent',
    at: new Date(0),
  }) as StepTransition;

describe('interruptedSteps: what a restarted agent resumes', () => {
  test('a resumed attempt recording its start again keeps the request-sent mark of the same attempt and key', () => {
    const cut = interruptedSteps(
      [
        row('pay', 1, { idempotencyKey: 'k1' }),
        row('pay', 1, { idempotencyKey: 'k1', requestSent: true }),
        // The next owner resumed it (same attempt, same key) and crashed before finishing it.
        row('pay', 1, { idempotencyKey: 'k1' }),
      ],
      new Set(),
    );
    expect(cut).toEqual({ attempts: { pay: 1 }, keys: { pay: 'k1' }, sent: ['pay'] });
  });

  test('a later attempt, or the same attempt under another key, starts without the mark', () => {
    const later = interruptedSteps(
      [row('pay', 1, { idempotencyKey: 'k1', requestSent: true }), row('pay', 2, { idempotencyKey: 'k2' })],
      new Set(),
    );
    expect(later).toEqual({ attempts: { pay: 2 }, keys: { pay: 'k2' }, sent: [] });
    const rekeyed = interruptedSteps(
      [row('pay', 1, { idempotencyKey: 'k1', requestSent: true }), row('pay', 1, { idempotencyKey: 'k9' })],
      new Set(),
    );
    expect(rekeyed.sent).toEqual([]);
  });

  test('finished steps are not interrupted; other steps keep their own marks', () => {
    const cut = interruptedSteps(
      [
        row('a', 1, { idempotencyKey: 'ka', requestSent: true }),
        row('b', 1, { idempotencyKey: 'kb' }),
        row('c', 1, { idempotencyKey: 'kc', requestSent: true }),
      ],
      new Set(['c']),
    );
    expect(cut).toEqual({ attempts: { a: 1, b: 1 }, keys: { a: 'ka', b: 'kb' }, sent: ['a'] });
  });
});
