import { InputRequest, TaskState, TaskStatus, type DeepPartial } from '../../gen/agentmesh/v1/task.js';
import type { Principal } from '../core/index.js';
import type { JsonValue, TaskRecord } from '../state/index.js';
import { DEFAULT_AUDITOR_ROLES, taskAccess, waitsFor } from './task-access.js';

const person = (subject: string, roles: string[] = [], scopes: string[] = []): Principal => ({
  peer: { spiffeId: undefined, source: 'none' },
  subject,
  clientId: 'agentmesh/console',
  scopes,
  roles,
  actors: [],
  token: '',
  claims: {},
});

function task(
  state: TaskState,
  request: DeepPartial<InputRequest> | undefined,
  extra: { approvals?: object[]; actors?: string[] } = {},
): TaskRecord {
  const status = TaskStatus.toJSON(
    TaskStatus.fromPartial({ state, inputRequest: request && InputRequest.fromPartial(request) }),
  );
  const at = new Date('2026-01-01T00:00:00Z');
  return {
    id: 't1',
    contextId: 'c1',
    state,
    version: 3,
    data: { subject: 'ada', actors: extra.actors ?? [], status, approvals: extra.approvals ?? [] } as JsonValue,
    createdAt: at,
    createdBy: 'ada',
    updatedAt: at,
    updatedBy: 'ada',
    owner: undefined,
    fencing: 0,
    leaseUntil: undefined,
  };
}

const WAITING = TaskState.TASK_STATE_INPUT_REQUIRED;
const approval = {
  stepId: 'approve',
  prompt: 'Approve?',
  choices: ['approve', 'decline'],
  approverRoles: ['approver'],
};
const roles = DEFAULT_AUDITOR_ROLES;

describe('taskAccess', () => {
  test('the subject steers its own task', () => {
    expect(taskAccess(task(TaskState.TASK_STATE_WORKING, undefined), person('ada'), roles)).toBe('steer');
  });

  test('an auditor audits any task, even one they sent, and the auditor roles are configurable', () => {
    const t = task(TaskState.TASK_STATE_COMPLETED, undefined);
    expect(taskAccess(t, person('ben', ['auditor']), roles)).toBe('audit');
    expect(taskAccess(t, person('ada', ['auditor']), roles)).toBe('audit');
    expect(taskAccess(t, person('ben', ['auditor']), ['compliance'])).toBe('none');
    expect(taskAccess(t, person('ben', ['compliance']), ['compliance'])).toBe('audit');
  });

  test('a holder of the approver role (or scope) may answer while the task waits for that step', () => {
    expect(taskAccess(task(WAITING, approval), person('carol', ['approver']), roles)).toBe('answer');
    const byScope = { ...approval, approverRoles: [], approverScopes: ['loan.approve'] };
    expect(taskAccess(task(WAITING, byScope), person('carol', [], ['loan.approve']), roles)).toBe('answer');
    expect(taskAccess(task(WAITING, approval), person('dan', ['loan-officer']), roles)).toBe('none');
    // Not waiting (any more): the role alone shows nothing.
    expect(taskAccess(task(TaskState.TASK_STATE_WORKING, approval), person('carol', ['approver']), roles)).toBe('none');
  });

  test('a question (no approvers named) is for the subject only', () => {
    const question = { stepId: 'ask', prompt: 'Which account?' };
    expect(taskAccess(task(WAITING, question), person('carol', ['approver']), roles)).toBe('none');
  });

  test('whoever answered keeps reading the task', () => {
    const t = task(TaskState.TASK_STATE_COMPLETED, undefined, { approvals: [{ stepId: 'approve', subject: 'carol' }] });
    expect(taskAccess(t, person('carol'), roles)).toBe('read');
    expect(taskAccess(t, person('dan'), roles)).toBe('none');
  });
});

describe('waitsFor (the inbox)', () => {
  test('an approval waits for an entitled person who is not its subject or actor and has not answered', () => {
    expect(waitsFor(task(WAITING, approval), person('carol', ['approver']), roles)).toBe(true);
    expect(waitsFor(task(WAITING, approval), person('ada', ['approver']), roles)).toBe(false);
    expect(waitsFor(task(WAITING, approval, { actors: ['carol'] }), person('carol', ['approver']), roles)).toBe(false);
    expect(waitsFor(task(WAITING, { ...approval, allowSelfApproval: true }), person('ada', ['approver']), roles)).toBe(
      true,
    );
    const once = {
      ...approval,
      requiredApprovals: 2,
      approvals: [{ stepId: 'approve', subject: 'carol', role: 'approver', answer: 'approve', actors: [] }],
    };
    expect(waitsFor(task(WAITING, once), person('carol', ['approver']), roles)).toBe(false);
    expect(waitsFor(task(WAITING, once), person('dora', ['approver']), roles)).toBe(true);
  });

  test('nothing waits for an auditor, past a deadline, or when the task is not waiting', () => {
    expect(waitsFor(task(WAITING, approval), person('ben', ['auditor', 'approver']), roles)).toBe(false);
    const expired = { ...approval, expiresAt: new Date('2026-01-01T00:00:00Z') };
    expect(waitsFor(task(WAITING, expired), person('carol', ['approver']), roles, new Date('2026-01-02'))).toBe(false);
    expect(waitsFor(task(TaskState.TASK_STATE_WORKING, approval), person('carol', ['approver']), roles)).toBe(false);
  });

  test("a question waits for the task's subject", () => {
    const question = { stepId: 'ask', prompt: 'Which account?' };
    expect(waitsFor(task(WAITING, question), person('ada'), roles)).toBe(true);
    expect(waitsFor(task(WAITING, question), person('carol', ['approver']), roles)).toBe(false);
  });
});
