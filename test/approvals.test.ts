import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTasksRequest } from '../gen/agentmesh/v1/agent_service.js';
import { Message, TaskState, type Task, type TaskStatus } from '../gen/agentmesh/v1/task.js';
import { Code } from '../mesh/index.js';
import type { AuditRecord } from '../mesh/telemetry/audit.js';
import { startTestMesh, type TestMesh } from '../mesh/testing/index.js';

const AGENT = 'demo/approver';
// ada sends; carol and dan approve loans; bob has no approver role.
const USERS = {
  roles: {
    'loan-officer': ['task.read', 'task.write', 'registry.read'],
    'loan-approver': ['task.read', 'task.write', 'registry.read'],
  },
  users: {
    ada: ['loan-officer'],
    bob: ['loan-officer'],
    carol: ['loan-officer', 'loan-approver'],
    dan: ['loan-approver'],
  },
  default_roles: [],
};

let mesh: TestMesh;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'approvals-'));
  writeFileSync(join(dir, 'users.json'), JSON.stringify(USERS));
  mesh = await startTestMesh({ agents: [AGENT], env: { AGENTMESH_AUTH_USERS_FILE: join(dir, 'users.json') } });
  await mesh.startAgent('test/fixtures/approval-agent.ts', { name: AGENT });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const text = (t: string) =>
  Message.fromPartial({ messageId: randomUUID(), role: 1, parts: [{ content: { $case: 'text', text: t } }] });
const data = (d: Record<string, unknown>) =>
  Message.fromPartial({ messageId: randomUUID(), role: 1, parts: [{ content: { $case: 'data', data: d } }] });
const as = (user: string) => mesh.agent(AGENT, { user, deadlineMs: 30_000 });

/** ada asks for `skill`; resolves once the task waits for a person. */
async function send(skill: string): Promise<Task> {
  const { task } = await as('ada').sendTask({
    requestId: randomUUID(),
    skillId: skill,
    message: data({}),
    configuration: { blocking: true, historyLength: 0, timeout: undefined },
  });
  expect(task?.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
  return task!;
}

const answer = (user: string, taskId: string, message: Message, stepId = 'approval') =>
  as(user).provideInput({ taskId, stepId, message, expectedVersion: 0 });

/** The task as its subject reads it. */
const read = async (taskId: string) => (await as('ada').getTask({ taskId, historyLength: 0 })).task!;

/** Resolves with the task once it is terminal (the subject's event stream ends there). */
async function finished(taskId: string): Promise<Task> {
  for await (const _ of as('ada').subscribeTask({ taskId, afterSequence: 0 }, { deadlineMs: 60_000 }));
  return read(taskId);
}

const auditOf = (taskId: string) =>
  readFileSync(join(mesh.home, 'data', AGENT.replace('/', '-'), 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord)
    .filter((r) => r.task_id === taskId && r.kind.startsWith('approval'));

/** Expects the call refused with `code` and the task's version unchanged. */
async function refused(taskId: string, call: Promise<unknown>, code: Code, message?: RegExp): Promise<void> {
  const before = (await read(taskId)).version;
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ code, ...(message ? { message: expect.stringMatching(message) } : {}) });
  expect((await read(taskId)).version).toBe(before);
}

const outputOf = (task: Task) => {
  const c = task.artifacts[0]?.parts[0]?.content;
  return c?.$case === 'data' ? c.data : undefined;
};

test('four eyes: the sender may not approve, nor may a person without the role; the role holder completes the task', async () => {
  const task = await send('one');
  expect(task.status?.inputRequest).toMatchObject({ stepId: 'approval', approverRoles: ['loan-approver'] });
  await refused(task.id, answer('ada', task.id, text('approve')), Code.PERMISSION_DENIED, /four eyes/);
  // bob holds no approver role: the task is not his to see, and his attempt is on the record with the reason.
  await refused(task.id, answer('bob', task.id, text('approve')), Code.NOT_FOUND, /not found/);
  await refused(
    task.id,
    answer('carol', task.id, text('approve'), 'nope'),
    Code.INVALID_ARGUMENT,
    /waits for approval/,
  );
  await refused(task.id, answer('carol', task.id, text('maybe')), Code.INVALID_ARGUMENT, /one of approve, decline/);
  const before = Date.now();
  await answer('carol', task.id, text('approve'));
  const done = await finished(task.id);
  expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  expect(outputOf(done)).toBe('approve');
  expect(done.approvals).toEqual([
    expect.objectContaining({ stepId: 'approval', subject: 'carol', role: 'loan-approver', answer: 'approve' }),
  ]);
  expect(done.approvals[0]!.answeredAt!.getTime()).toBeGreaterThanOrEqual(before - 5_000);
  expect(done.history.at(-1)?.metadata).toMatchObject({ approval: { subject: 'carol', role: 'loan-approver' } });
  await refused(task.id, answer('dan', task.id, text('approve')), Code.FAILED_PRECONDITION, /not waiting/);
  expect(auditOf(task.id).map((r) => [r.kind, r.subject, r.resource, r.outcome, r.reason])).toEqual([
    ['approval_refused', 'ada', 'approval', 'PERMISSION_DENIED', expect.stringContaining('four eyes')],
    [
      'approval_refused',
      'bob',
      'approval',
      'NOT_FOUND',
      expect.stringMatching(/needs one of loan-approver.*told it does not exist/),
    ],
    ['approval_refused', 'carol', 'nope', 'INVALID_ARGUMENT', 'the task waits for another step'],
    ['approval_refused', 'carol', 'approval', 'INVALID_ARGUMENT', 'not one of approve, decline'],
    ['approval', 'carol', 'approval', 'OK', 'approve as loan-approver'],
    ['approval_refused', 'dan', 'approval', 'FAILED_PRECONDITION', 'step approval was already answered by carol'],
  ]);
}, 60_000);

test('two approvals need two distinct people: the same person twice counts once', async () => {
  const task = await send('two');
  const first = (await answer('carol', task.id, text('approve'))).task!;
  expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
  expect(first.status?.inputRequest?.approvals.map((a) => a.subject)).toEqual(['carol']);
  expect(first.status?.message?.parts[0]?.content).toMatchObject({ text: expect.stringMatching(/^1 of 2 approvals/) });
  await refused(task.id, answer('carol', task.id, text('approve')), Code.FAILED_PRECONDITION, /already answered/);
  expect((await read(task.id)).approvals).toHaveLength(1);
  await answer('dan', task.id, text('approve'));
  const done = await finished(task.id);
  expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  expect(done.approvals.map((a) => [a.subject, a.answer])).toEqual([
    ['carol', 'approve'],
    ['dan', 'approve'],
  ]);
  expect(auditOf(task.id).map((r) => r.reason)).toEqual([
    'approve as loan-approver (1 of 2)',
    expect.stringContaining('already answered'),
    'approve as loan-approver (2 of 2)',
  ]);
}, 60_000);

test('one decline settles a two-approver step at once', async () => {
  const task = await send('two');
  await answer('carol', task.id, text('approve'));
  await answer('dan', task.id, text('decline'));
  const done = await finished(task.id);
  expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  expect(outputOf(done)).toBe('decline');
}, 60_000);

test('two approvers answering at once: exactly one wins, the other is told it was already answered', async () => {
  const task = await send('one');
  const outcomes = await Promise.allSettled([
    answer('carol', task.id, text('approve')),
    answer('dan', task.id, text('decline')),
  ]);
  const won = outcomes.filter((o) => o.status === 'fulfilled');
  const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  expect(won).toHaveLength(1);
  expect(lost).toHaveLength(1);
  expect(lost[0]!.reason).toMatchObject({ code: Code.FAILED_PRECONDITION });
  const done = await finished(task.id);
  expect(done.approvals).toHaveLength(1);
  expect(
    auditOf(task.id)
      .map((r) => r.outcome)
      .sort(),
  ).toEqual(['FAILED_PRECONDITION', 'OK']);
}, 60_000);

test('a question is for the task subject only, and the answer must match its schema', async () => {
  const task = await send('question');
  expect(task.status?.inputRequest?.approverRoles).toEqual([]);
  await refused(task.id, answer('carol', task.id, data({ amount: 5 })), Code.NOT_FOUND, /not found/);
  await refused(task.id, answer('ada', task.id, text('lots')), Code.INVALID_ARGUMENT);
  await answer('ada', task.id, data({ amount: 5 }));
  const done = await finished(task.id);
  expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  expect(done.approvals).toEqual([expect.objectContaining({ subject: 'ada', role: '', answer: { amount: 5 } })]);
  expect(auditOf(task.id).map((r) => [r.kind, r.reason])).toEqual([
    ['approval_refused', expect.stringContaining('question')],
    ['approval_refused', 'the answer does not match the step input schema'],
    ['approval', 'answered'],
  ]);
}, 60_000);

test('an approval not given within its deadline fails the task; a late answer is refused', async () => {
  // Not blocking: on a busy machine the 1 s deadline may pass before a blocking send would return.
  const { task } = await as('ada').sendTask({
    requestId: randomUUID(),
    skillId: 'quick',
    message: data({}),
    configuration: { blocking: false, historyLength: 0, timeout: undefined },
  });
  // The task's own events: it waited with a deadline, then failed at it.
  const statuses: TaskStatus[] = [];
  for await (const { event } of as('ada').subscribeTask({ taskId: task!.id, afterSequence: 0 }, { deadlineMs: 60_000 }))
    if (event?.event?.$case === 'statusUpdate') statuses.push(event.event.statusUpdate.status!);
  const waited = statuses.find((st) => st.state === TaskState.TASK_STATE_INPUT_REQUIRED);
  expect(waited?.inputRequest?.expiresAt).toBeInstanceOf(Date);
  const done = await read(task!.id);
  expect(done.status?.state).toBe(TaskState.TASK_STATE_FAILED);
  expect(done.status?.message?.parts[0]?.content).toMatchObject({
    text: expect.stringMatching(/^step approval expired at .* without the approvals it needs$/),
  });
  await refused(
    task!.id,
    answer('carol', task!.id, text('approve')),
    Code.FAILED_PRECONDITION,
    /the task is FAILED: step approval expired/,
  );
}, 60_000);

test('a task a workload sent (no person behind it) is approved by a person holding the role', async () => {
  const { task } = await mesh.agent(AGENT, { deadlineMs: 30_000 }).sendTask({
    requestId: randomUUID(),
    skillId: 'one',
    message: data({}),
    configuration: { blocking: true, historyLength: 0, timeout: undefined },
  });
  expect(task?.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
  const inbox = await as('carol').listTasks(ListTasksRequest.fromPartial({ waitingForMe: true, pageSize: 100 }));
  expect(inbox.tasks.map((t) => t.id)).toContain(task!.id);
  await answer('carol', task!.id, text('approve'));
  // carol, who answered, keeps reading it: follow it to its end.
  for await (const _ of as('carol').subscribeTask({ taskId: task!.id, afterSequence: 0 }, { deadlineMs: 60_000 }));
  const done = await as('carol').getTask({ taskId: task!.id, historyLength: 0 });
  expect(done.task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  expect(done.task?.approvals).toEqual([expect.objectContaining({ subject: 'carol', role: 'loan-approver' })]);
  expect(done.task?.subject).not.toBe('carol');
}, 60_000);

test('an approval by scope: a person holding it approves; the workload the task came through, holding it too, is refused', async () => {
  const task = await send('scoped');
  const workload = mesh.agent(AGENT, { deadlineMs: 30_000 });
  await refused(
    task.id,
    workload.provideInput({ taskId: task.id, stepId: 'approval', message: text('approve'), expectedVersion: 0 }),
    Code.NOT_FOUND,
  );
  await answer('carol', task.id, text('approve'));
  const done = await finished(task.id);
  expect(done.approvals).toEqual([expect.objectContaining({ subject: 'carol', role: 'scope:task.write' })]);
  expect(auditOf(task.id).map((r) => [r.kind, r.outcome, r.reason])).toEqual([
    // The test caller is the front end ada's request came through (her act chain): four eyes refuses it first
    // (that a workload's own token never approves is answers.test.ts's).
    ['approval_refused', 'NOT_FOUND', expect.stringMatching(/acted in sending this task .*four eyes/)],
    ['approval', 'OK', 'approve as scope:task.write'],
  ]);
}, 60_000);
