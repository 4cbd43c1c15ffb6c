import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code } from '../core/index.js';
import { assertTransition, canTransition, isTerminal } from './task-states.js';

const S = TaskState;

describe('task state machine', () => {
  test.each([
    [S.TASK_STATE_SUBMITTED, S.TASK_STATE_WORKING],
    [S.TASK_STATE_SUBMITTED, S.TASK_STATE_REJECTED],
    [S.TASK_STATE_WORKING, S.TASK_STATE_INPUT_REQUIRED],
    [S.TASK_STATE_INPUT_REQUIRED, S.TASK_STATE_WORKING],
    [S.TASK_STATE_WORKING, S.TASK_STATE_COMPLETED],
    [S.TASK_STATE_AUTH_REQUIRED, S.TASK_STATE_WORKING],
    [S.TASK_STATE_WORKING, S.TASK_STATE_WORKING],
  ])('%s → %s is legal', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  test.each([
    [S.TASK_STATE_COMPLETED, S.TASK_STATE_WORKING],
    [S.TASK_STATE_CANCELED, S.TASK_STATE_CANCELED],
    [S.TASK_STATE_SUBMITTED, S.TASK_STATE_COMPLETED],
    [S.TASK_STATE_SUBMITTED, S.TASK_STATE_INPUT_REQUIRED],
    [S.TASK_STATE_WORKING, S.TASK_STATE_REJECTED],
    [S.TASK_STATE_WORKING, S.TASK_STATE_SUBMITTED],
    [S.TASK_STATE_INPUT_REQUIRED, S.TASK_STATE_COMPLETED],
    [S.TASK_STATE_UNSPECIFIED, S.TASK_STATE_WORKING],
  ])('%s → %s is refused', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  test('every terminal state is a dead end', () => {
    const all = Object.values(S).filter((v): v is TaskState => typeof v === 'number');
    for (const from of all.filter(isTerminal)) {
      for (const to of all) expect(canTransition(from, to)).toBe(false);
    }
  });

  test('the error names the task and both states', () => {
    expect(() => assertTransition('t1', S.TASK_STATE_COMPLETED, S.TASK_STATE_WORKING)).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: 'task t1 cannot go from COMPLETED to WORKING',
      }),
    );
  });
});
