import { Approval, InputRequest, Message } from '../../gen/agentmesh/v1/task.js';
import { Code } from '../core/index.js';
import { judgeAnswer, type AnswerInput } from './answers.js';

const now = new Date('2026-01-01T10:00:00Z');
const task = { subject: 'ada', actors: ['spiffe://mesh/front'] };
const person = (subject: string, roles: string[] = []) => ({
  subject,
  clientId: 'agentmesh/console' as string | undefined,
  roles,
  scopes: [] as string[],
  actors: ['agentmesh/console'],
});
const say = (text: string) => Message.fromPartial({ parts: [{ content: { $case: 'text', text } }] });
const waiting = (r: Partial<InputRequest>) =>
  InputRequest.toJSON(InputRequest.fromPartial({ stepId: 'approval', ...r }));
const approval = { approverRoles: ['loan-approver'], choices: ['approve', 'decline'] };
const judge = (i: Partial<AnswerInput>) =>
  judgeAnswer({
    waiting: waiting(approval),
    stepId: 'approval',
    message: say('approve'),
    task,
    caller: person('carol', ['loan-approver']),
    now,
    ...i,
  });

describe('judgeAnswer', () => {
  test('each level of a multi-level approval is another person: who approved an earlier step may not approve this one', () => {
    const second = waiting({ ...approval, stepId: 'committee' });
    const earlier = [{ stepId: 'approval', subject: 'carol', role: 'loan-approver', answer: 'approve' }];
    expect(judge({ waiting: second, stepId: 'committee', task: { ...task, approvals: earlier } })).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'carol approved step approval of this task: step committee needs another person (four eyes)',
    });
    // Answering a question earlier (no role) does not bar anyone; another person approves.
    const asked = [{ stepId: 'how-much', subject: 'carol', role: '', answer: 5 }];
    expect(judge({ waiting: second, stepId: 'committee', task: { ...task, approvals: asked } })).toMatchObject({
      accepted: true,
    });
    expect(
      judge({
        waiting: second,
        stepId: 'committee',
        task: { ...task, approvals: earlier },
        caller: person('dan', ['loan-approver']),
      }),
    ).toMatchObject({ accepted: true });
  });

  test("approvals come from people: not a workload's own token, not an agent acting for a person", () => {
    const scoped = waiting({ ...approval, approverRoles: [], approverScopes: ['task.write'] });
    const workload = { ...person('lending/batch'), clientId: 'lending/batch', actors: [], scopes: ['task.write'] };
    expect(judge({ waiting: scoped, caller: workload })).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'lending/batch is a workload: approvals come from people',
    });
    const throughAgent = {
      ...person('carol', ['loan-approver']),
      actors: ['lending/orchestrator', 'agentmesh/console'],
    };
    expect(judge({ caller: throughAgent })).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: expect.stringContaining('lending/orchestrator acts for carol here'),
    });
    // A person's own token from the identity provider (no act chain) answers.
    expect(
      judge({ caller: { ...person('carol', ['loan-approver']), clientId: 'bank-portal', actors: [] } }),
    ).toMatchObject({ accepted: true });
  });

  test('a question is answered by the task subject only', () => {
    const q = waiting({ prompt: 'Which?' });
    expect(judge({ waiting: q, caller: person('ada') })).toMatchObject({
      accepted: true,
      settled: true,
      reason: 'answered',
    });
    expect(judge({ waiting: q, caller: person('carol', ['loan-approver']) })).toMatchObject({
      accepted: false,
      code: Code.PERMISSION_DENIED,
    });
  });

  test('an approval needs a role or scope, and never the subject or its act chain (four eyes)', () => {
    expect(judge({ caller: person('bob') })).toMatchObject({
      accepted: false,
      code: Code.PERMISSION_DENIED,
      message: 'step approval is an approval: answering it needs one of loan-approver',
    });
    expect(judge({ caller: person('ada') })).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: expect.stringContaining('four eyes'),
    });
    expect(judge({ caller: person('ada', ['loan-approver']) })).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: expect.stringContaining('four eyes'),
    });
    expect(judge({ caller: person('spiffe://mesh/front', ['loan-approver']) })).toMatchObject({
      code: Code.PERMISSION_DENIED,
    });
    expect(
      judge({ waiting: waiting({ ...approval, allowSelfApproval: true }), caller: person('ada', ['loan-approver']) }),
    ).toMatchObject({ accepted: true });
    const scoped = waiting({ approverScopes: ['loans.approve'] });
    expect(judge({ waiting: scoped, caller: { ...person('dan'), scopes: ['loans.approve'] } })).toMatchObject({
      accepted: true,
      approval: { role: 'scope:loans.approve' },
    });
  });

  test('the role holder settles a one-approver step, recorded with role and time', () => {
    const got = judge({});
    expect(got).toMatchObject({ accepted: true, settled: true, reason: 'approve as loan-approver', answer: 'approve' });
    if (!got.accepted) throw new Error('refused');
    expect(got.approval).toEqual(
      Approval.fromPartial({
        stepId: 'approval',
        subject: 'carol',
        role: 'loan-approver',
        answer: 'approve',
        answeredAt: now,
        actors: ['agentmesh/console'],
      }),
    );
  });

  test('N approvals: the first choice needs N distinct people, another choice settles at once', () => {
    const two = { ...approval, requiredApprovals: 2 };
    const first = judge({ waiting: waiting(two) });
    expect(first).toMatchObject({
      accepted: true,
      settled: false,
      count: 1,
      needed: 2,
      reason: 'approve as loan-approver (1 of 2)',
    });
    if (!first.accepted) throw new Error('refused');
    const after = waiting({ ...two, approvals: first.approvals });
    expect(judge({ waiting: after })).toMatchObject({ accepted: false, code: Code.FAILED_PRECONDITION });
    expect(judge({ waiting: after, caller: person('dan', ['loan-approver']) })).toMatchObject({
      settled: true,
      count: 2,
      approvals: [{ subject: 'carol' }, { subject: 'dan' }],
    });
    expect(judge({ waiting: after, caller: person('dan', ['loan-approver']), message: say('decline') })).toMatchObject({
      settled: true,
      count: 1,
      reason: 'decline as loan-approver',
    });
  });

  test('bad answers: another step, no answer, a choice not offered, a schema mismatch, past the deadline', () => {
    expect(judge({ stepId: 'other' })).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(judge({ message: Message.fromPartial({ parts: [] }) })).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(judge({ message: say('maybe') })).toMatchObject({
      code: Code.INVALID_ARGUMENT,
      reason: 'not one of approve, decline',
    });
    const schema = waiting({ ...approval, choices: [], inputSchema: { type: 'object', required: ['amount'] } });
    expect(judge({ waiting: schema, message: say('my salary is 5000') })).toMatchObject({
      code: Code.INVALID_ARGUMENT,
      reason: 'the answer does not match the step input schema',
    });
    const late = waiting({ ...approval, expiresAt: new Date(now.getTime() - 1) });
    expect(judge({ waiting: late })).toMatchObject({ code: Code.FAILED_PRECONDITION, expired: true });
  });
});
