import { StepState } from '../../gen/agentmesh/v1/plan.js';
import type { StepTransition } from '../state/index.js';

/** Where each step cut off by a restart got to: its attempt, its idempotency key, and whether its request went out. */
export interface InterruptedSteps {
  /** Step id → the attempt that was running. */
  attempts: Record<string, number>;
  /** Step id → that attempt's idempotency key. */
  keys: Record<string, string>;
  /** Steps whose running attempt had marked its request as sent (StepCall.sending). */
  sent: string[];
}

/**
 * Reads the step log of a task (in sequence order) for the steps still RUNNING, i.e. not in
 * `finished`. The "request sent" mark belongs to one attempt under one key: a later RUNNING row
 * of another attempt or key clears it, but one of the same attempt and key does not — a resumed
 * attempt records its start again before its runner refuses to re-send, and a crash right then
 * must not lose the mark (the next owner would call a non-idempotent tool a second time).
 */
export function interruptedSteps(
  transitions: readonly StepTransition[],
  finished: ReadonlySet<string>,
): InterruptedSteps {
  const out: InterruptedSteps = { attempts: {}, keys: {}, sent: [] };
  const marks = new Map<string, { attempt: number; key: string | undefined; sent: boolean }>();
  for (const t of transitions) {
    if (t.state !== StepState.STEP_STATE_RUNNING || finished.has(t.stepId)) continue;
    const detail = t.detail as { idempotencyKey?: unknown; requestSent?: unknown } | undefined;
    const key = typeof detail?.idempotencyKey === 'string' ? detail.idempotencyKey : undefined;
    out.attempts[t.stepId] = t.attempt;
    if (key !== undefined) out.keys[t.stepId] = key;
    const before = marks.get(t.stepId);
    const sameAttempt = before !== undefined && before.attempt === t.attempt && before.key === key;
    marks.set(t.stepId, {
      attempt: t.attempt,
      key,
      sent: detail?.requestSent === true || (sameAttempt && before.sent),
    });
  }
  out.sent = [...marks].filter(([, m]) => m.sent).map(([stepId]) => stepId);
  return out;
}
