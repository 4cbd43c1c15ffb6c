// Approvals answered at once on two replicas of one agent over one PostgreSQL database: the
// compare-and-set between processes, not a queue inside one, decides which answers count.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Message, TaskState, type Task } from '../gen/agentmesh/v1/task.js';
import { Code, type MeshClient } from '../mesh/index.js';
import { startTestMesh, type TestMesh } from '../mesh/testing/index.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

const AGENT = 'demo/approver';
const USERS = {
  roles: { officer: ['task.read', 'task.write'], 'loan-approver': ['task.read', 'task.write'] },
  users: { ada: ['officer'], carol: ['loan-approver'], dan: ['loan-approver'] },
  default_roles: [],
};

let fx: BackendFixture;
let mesh: TestMesh;
let dir: string;
const addresses: string[] = [];

beforeAll(async () => {
  fx = await postgresFixture();
  dir = mkdtempSync(join(tmpdir(), 'approvals-replicas-'));
  writeFileSync(join(dir, 'users.json'), JSON.stringify(USERS));
  mesh = await startTestMesh({ agents: [AGENT], env: { AGENTMESH_AUTH_USERS_FILE: join(dir, 'users.json') } });
  for (const replica of ['r1', 'r2'])
    addresses.push(
      (await mesh.startAgent('test/fixtures/approval-agent.ts', { name: AGENT, replica, env: fx.env })).address,
    );
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await fx?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** `user`'s client of replica `n` (0 or 1). */
const on = (n: number, user: string): MeshClient<typeof AgentServiceService> =>
  mesh.agent(AGENT, { user, address: addresses[n], deadlineMs: 30_000 });
const approve = () =>
  Message.fromPartial({ messageId: randomUUID(), role: 1, parts: [{ content: { $case: 'text', text: 'approve' } }] });

/** ada sends `skill` through replica 0; resolves once the task waits for a person. */
async function waiting(skill: string): Promise<Task> {
  const { task } = await on(0, 'ada').sendTask({
    requestId: randomUUID(),
    skillId: skill,
    message: Message.fromPartial({
      messageId: randomUUID(),
      role: 1,
      parts: [{ content: { $case: 'data', data: {} } }],
    }),
    configuration: { blocking: true, historyLength: 0, timeout: undefined },
  });
  expect(task?.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
  return task!;
}

/** carol on replica 0 and dan on replica 1 answer at the same moment; each outcome is the task or the error. */
async function bothAnswer(taskId: string): Promise<(Task | { code: Code; message: string })[]> {
  const answer = (n: number, user: string) =>
    on(n, user)
      .provideInput({ taskId, stepId: 'approval', message: approve(), expectedVersion: 0 })
      .then(
        (r) => r.task!,
        (e: { code: Code; message: string }) => e,
      );
  return Promise.all([answer(0, 'carol'), answer(1, 'dan')]);
}

/** The task once it is terminal, followed on replica 1 (not the one it was sent to). */
async function finished(taskId: string): Promise<Task> {
  for await (const _ of on(1, 'ada').subscribeTask({ taskId, afterSequence: 0 }, { deadlineMs: 60_000 }));
  return (await on(1, 'ada').getTask({ taskId, historyLength: 0 })).task!;
}

test('one approval needed, two approvers on two replicas at once: exactly one counts, the other is told who answered', async () => {
  for (let round = 0; round < 4; round++) {
    const task = await waiting('one');
    const outcomes = await bothAnswer(task.id);
    const refused = outcomes.filter((o): o is { code: Code; message: string } => 'code' in o);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringMatching(/already answered by (carol|dan)/),
    });
    const done = await finished(task.id);
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(done.approvals).toHaveLength(1);
  }
}, 120_000);

test('two approvals needed, two approvers on two replicas at once: both count and the task completes', async () => {
  for (let round = 0; round < 4; round++) {
    const task = await waiting('two');
    const outcomes = await bothAnswer(task.id);
    expect(outcomes.every((o) => !('code' in o))).toBe(true);
    const done = await finished(task.id);
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(done.approvals.map((a) => a.subject).sort()).toEqual(['carol', 'dan']);
  }
}, 120_000);
