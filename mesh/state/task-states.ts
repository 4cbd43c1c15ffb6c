import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, MeshError } from '../core/index.js';

const S = TaskState;

/** States a task never leaves (A2A terminal states). */
export const TERMINAL_STATES: readonly TaskState[] = [
  S.TASK_STATE_COMPLETED,
  S.TASK_STATE_FAILED,
  S.TASK_STATE_CANCELED,
  S.TASK_STATE_REJECTED,
];

/** States of a task that is still running or waiting (SUBMITTED, WORKING, INPUT_REQUIRED, AUTH_REQUIRED). */
export const LIVE_STATES: readonly TaskState[] = [
  S.TASK_STATE_SUBMITTED,
  S.TASK_STATE_WORKING,
  S.TASK_STATE_INPUT_REQUIRED,
  S.TASK_STATE_AUTH_REQUIRED,
];

// The A2A task lifecycle. Cancelling and failing are possible from every live state;
// REJECTED only before work starts or when authorization is refused.
const LEGAL: ReadonlyMap<TaskState, readonly TaskState[]> = new Map([
  [
    S.TASK_STATE_SUBMITTED,
    [
      S.TASK_STATE_WORKING,
      S.TASK_STATE_AUTH_REQUIRED,
      S.TASK_STATE_REJECTED,
      S.TASK_STATE_CANCELED,
      S.TASK_STATE_FAILED,
    ],
  ],
  [
    S.TASK_STATE_WORKING,
    [
      S.TASK_STATE_INPUT_REQUIRED,
      S.TASK_STATE_AUTH_REQUIRED,
      S.TASK_STATE_COMPLETED,
      S.TASK_STATE_FAILED,
      S.TASK_STATE_CANCELED,
    ],
  ],
  [S.TASK_STATE_INPUT_REQUIRED, [S.TASK_STATE_WORKING, S.TASK_STATE_CANCELED, S.TASK_STATE_FAILED]],
  [
    S.TASK_STATE_AUTH_REQUIRED,
    [S.TASK_STATE_WORKING, S.TASK_STATE_REJECTED, S.TASK_STATE_CANCELED, S.TASK_STATE_FAILED],
  ],
]);

/** True for COMPLETED, FAILED, CANCELED and REJECTED. */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** True when a task may move from one state to the other (staying in a live state is allowed). */
export function canTransition(from: TaskState, to: TaskState): boolean {
  if (from === to) return !isTerminal(from);
  return LEGAL.get(from)?.includes(to) ?? false;
}

/** The states a task may be in for a change to `to` to be legal (its A2A predecessors, itself if live). */
export function statesLeadingTo(to: TaskState): TaskState[] {
  return [...LIVE_STATES, ...TERMINAL_STATES].filter((from) => canTransition(from, to));
}

/** The state's name without the prefix, e.g. "WORKING". */
export function stateName(state: TaskState): string {
  return (TaskState[state] ?? `STATE_${state}`).replace(/^TASK_STATE_/, '');
}

/** Throws FAILED_PRECONDITION naming both states when the transition is not in the A2A lifecycle. */
export function assertTransition(taskId: string, from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `task ${taskId} cannot go from ${stateName(from)} to ${stateName(to)}`,
    );
  }
}
