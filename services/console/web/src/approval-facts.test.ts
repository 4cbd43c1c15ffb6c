import { answerWords, approvalCount, whoMayAnswer, whyNotYou } from './approval-facts.js';
import type { InputRequestJson, TaskJson } from './types.js';

const task: TaskJson = { id: 't1', subject: 'ada' };
const approval: InputRequestJson = {
  stepId: 'approval',
  choices: ['approve', 'decline'],
  approverRoles: ['loan-approver'],
};
const session = (user: string, roles: string[], scopes: string[] = ['task.read']) => ({
  user,
  roles,
  scopes,
  csrf: '',
});

describe('the words the console uses for approvals', () => {
  test('who may answer: the roles, how many people, never the sender; a question goes to its sender', () => {
    expect(whoMayAnswer(approval, task)).toBe('a person with role loan-approver, not the sender');
    expect(whoMayAnswer({ ...approval, requiredApprovals: 2, approverScopes: ['loans.approve'] }, task)).toBe(
      'a person with role loan-approver or scope loans.approve; 2 distinct people to approve, not the sender',
    );
    expect(whoMayAnswer({ stepId: 'ask' }, task)).toBe('ada (who sent it)');
    expect(
      approvalCount({ ...approval, requiredApprovals: 2, approvals: [{ stepId: 'approval', subject: 'carol' }] }),
    ).toBe('1 of 2');
  });

  test('a choice is named by its verb; anything else is quoted', () => {
    expect(answerWords('approve')).toBe('approved');
    expect(answerWords('decline')).toBe('declined');
    expect(answerWords('maybe')).toBe('answered “maybe”');
    expect(answerWords({ limit: 3 })).toBe('answered (data)');
  });

  test('why a person is not offered a step: four eyes, already answered, no role; nothing for an entitled approver', () => {
    expect(whyNotYou(approval, task, session('ada', ['loan-officer']))).toMatch(/four eyes/);
    expect(
      whyNotYou({ ...approval, allowSelfApproval: true }, task, session('ada', ['loan-approver'])),
    ).toBeUndefined();
    expect(
      whyNotYou(
        { ...approval, approvals: [{ stepId: 'approval', subject: 'carol' }] },
        task,
        session('carol', ['loan-approver']),
      ),
    ).toMatch(/already answered/);
    expect(whyNotYou(approval, task, session('ben', ['auditor']))).toBe(
      'Only a person with role loan-approver may answer; you hold role auditor.',
    );
    expect(whyNotYou(approval, task, session('carol', ['loan-officer', 'loan-approver']))).toBeUndefined();
    expect(whyNotYou({ stepId: 'ask' }, task, session('carol', []))).toMatch(/question to ada/);
    expect(whyNotYou({ stepId: 'ask' }, task, session('ada', []))).toBeUndefined();
  });
});
