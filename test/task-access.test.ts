// Who sees what (docs/runtime.md, "Who sees a task"): real agent processes (a parent that has a
// child agent do a step, then waits for a loan approver), the local authorization server issuing
// person tokens with roles from a users file, and each person calling as themselves.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTasksRequest, ProvideInputRequest, type StreamTaskResponse } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState, type Task } from '../gen/agentmesh/v1/task.js';
import { Code, requestMessage } from '../mesh/index.js';
import type { AuditRecord } from '../mesh/index.js';
import { startTestMesh, type RunningAgent, type TestMesh } from '../mesh/testing/index.js';

const PARENT = 'test/access-parent';
const CHILD = 'test/access-child';
const USERS = {
  roles: {
    'loan-officer': ['task.read', 'task.write', 'registry.read'],
    'loan-approver': ['task.read', 'task.write', 'registry.read'],
    auditor: ['task.read', 'registry.read'],
  },
  users: { ada: ['loan-officer'], dan: ['loan-officer'], carol: ['loan-officer', 'loan-approver'], ben: ['auditor'] },
  default_roles: [],
};
const AUDITORS = 'auditors read and change nothing';

describe('who sees a task: subject, approver, auditor, everyone else', () => {
  let mesh: TestMesh;
  let parent: RunningAgent;
  let dir: string;
  /** ada's tasks: one done through the child agent, one waiting for a loan approver after the child's step. */
  let delegated: Task;
  let waiting: Task;
  let carolsOwn: Task;

  const as = (user: string) => mesh.agent(PARENT, { user });
  const send = async (user: string, skillId: string, requestId: string) =>
    (
      await as(user).sendTask({
        requestId,
        skillId,
        message: requestMessage({ say: requestId }),
        configuration: { blocking: true, historyLength: 0, timeout: undefined },
      })
    ).task!;
  const denied = (code: Code, message?: string | RegExp) =>
    expect.objectContaining({ code, ...(message ? { message: expect.stringMatching(message) } : {}) });
  const answer = (taskId: string) =>
    ProvideInputRequest.fromPartial({
      taskId,
      stepId: 'approval',
      message: { messageId: 'm1', role: 1, parts: [{ content: { $case: 'text', text: 'approve' } }] },
    });
  const firstEvent = async (user: string, taskId: string) => {
    const stream = as(user).subscribeTask({ taskId, afterSequence: 0 })[Symbol.asyncIterator]();
    try {
      return (await stream.next()).value as StreamTaskResponse;
    } finally {
      await stream.return?.(undefined);
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'task-access-'));
    const usersFile = join(dir, 'users.json');
    writeFileSync(usersFile, JSON.stringify(USERS));
    mesh = await startTestMesh({ env: { AGENTMESH_AUTH_USERS_FILE: usersFile }, agents: [PARENT, CHILD] });
    const child = await mesh.startAgent('test/fixtures/access-child-agent.ts', { name: CHILD });
    parent = await mesh.startAgent('test/fixtures/access-parent-agent.ts', {
      name: PARENT,
      env: { AGENTMESH_COLLABORATOR_ADDRESSES: `agent:${CHILD}=${child.address}` },
    });
    delegated = await send('ada', 'delegate', 'ada-1');
    waiting = await send('ada', 'delegate-then-approve', 'ada-2');
    carolsOwn = await send('carol', 'delegate', 'carol-1');
  }, 180_000);

  afterAll(async () => {
    await mesh?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the tasks ran as planned: one completed through the child, one waits for the approval step', () => {
    expect(delegated.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(waiting.status?.inputRequest).toMatchObject({ stepId: 'approval', approverRoles: ['loan-approver'] });
    expect(carolsOwn.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  test('an outsider gets NOT_FOUND on every task call, worded as for an absent task', async () => {
    const absent = await as('dan')
      .getTask({ taskId: 'no-such-task', historyLength: 0 })
      .catch((e: unknown) => e);
    expect(absent).toEqual(denied(Code.NOT_FOUND, /task no-such-task not found/));
    for (const task of [delegated, waiting]) {
      const notFound = denied(Code.NOT_FOUND, new RegExp(`^task ${task.id} not found$`));
      await expect(as('dan').getTask({ taskId: task.id, historyLength: 0 })).rejects.toEqual(notFound);
      await expect(firstEvent('dan', task.id)).rejects.toEqual(notFound);
      await expect(as('dan').explainTask({ taskId: task.id, maxDepth: 0 })).rejects.toEqual(notFound);
      await expect(as('dan').cancelTask({ taskId: task.id, reason: '' })).rejects.toEqual(notFound);
      await expect(as('dan').provideInput(answer(task.id))).rejects.toEqual(notFound);
    }
    // The approver role shows only what waits for it: carol does not see ada's finished task.
    await expect(as('carol').getTask({ taskId: delegated.id, historyLength: 0 })).rejects.toEqual(
      denied(Code.NOT_FOUND),
    );
  });

  test('an auditor reads every task and explanation, recursively through the child agent', async () => {
    expect((await as('ben').getTask({ taskId: delegated.id, historyLength: 0 })).task?.id).toBe(delegated.id);
    const first = await firstEvent('ben', waiting.id);
    expect(first.event?.event?.$case === 'task' && first.event.event.task.id).toBe(waiting.id);
    const { explanation } = await as('ben').explainTask({ taskId: delegated.id, maxDepth: 0 });
    expect(explanation?.children).toHaveLength(1);
    const child = explanation!.children[0]!;
    expect(child.task?.agent).toBe(CHILD);
    // The child agent saw ben's role through token exchange and let him read its task.
    expect(child.result?.$case).toBe('explanation');
    expect(child.result?.$case === 'explanation' && child.result.explanation.execution[0]?.stepId).toBe('echo');
  });

  test('an auditor changes nothing: send, cancel and answer are PERMISSION_DENIED', async () => {
    const before = (await as('ada').getTask({ taskId: waiting.id, historyLength: 0 })).task!;
    await expect(
      as('ben').sendTask({
        requestId: 'ben-1',
        skillId: 'delegate',
        message: requestMessage({ say: 'ben' }),
        configuration: undefined,
      }),
    ).rejects.toEqual(denied(Code.PERMISSION_DENIED, AUDITORS));
    await expect(as('ben').cancelTask({ taskId: waiting.id, reason: 'audit' })).rejects.toEqual(
      denied(Code.PERMISSION_DENIED, AUDITORS),
    );
    await expect(as('ben').provideInput(answer(waiting.id))).rejects.toEqual(denied(Code.PERMISSION_DENIED, AUDITORS));
    const after = (await as('ada').getTask({ taskId: waiting.id, historyLength: 0 })).task!;
    expect(after.version).toBe(before.version);
    expect(after.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const everyone = await as('ben').listTasks(ListTasksRequest.fromPartial({ pageSize: 10 }));
    expect(everyone.tasks.filter((t) => t.subject === 'ben')).toEqual([]);
    // Each refusal is on the agent's audit trail with the task it was about (durable before the call returns).
    const records = readFileSync(join(parent.dataDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord);
    for (const method of ['CancelTask', 'ProvideInput'])
      expect(records).toContainEqual(
        expect.objectContaining({
          kind: 'authz_denied',
          subject: 'ben',
          method: `agentmesh.v1.AgentService/${method}`,
          task_id: waiting.id,
          outcome: 'PERMISSION_DENIED',
          reason: AUDITORS,
        }),
      );
    // ben's answer is on the record as a refused approval too, like every refused answer.
    expect(records).toContainEqual(
      expect.objectContaining({
        kind: 'approval_refused',
        subject: 'ben',
        task_id: waiting.id,
        outcome: 'PERMISSION_DENIED',
        reason: AUDITORS,
      }),
    );
  });

  test('an approver sees the task waiting for their role, this task only in its explanation, and cannot cancel', async () => {
    const { task } = await as('carol').getTask({ taskId: waiting.id, historyLength: 0 });
    expect(task?.status?.inputRequest?.stepId).toBe('approval');
    const { explanation } = await as('carol').explainTask({ taskId: waiting.id, maxDepth: 0 });
    expect(explanation?.plan?.steps.map((s) => s.id)).toEqual(['child', 'approval']);
    expect(explanation?.children).toEqual([
      expect.objectContaining({
        stepId: 'child',
        result: {
          $case: 'gap',
          gap: { code: 'PERMISSION_DENIED', reason: "child tasks are visible to the task's subject and auditors" },
        },
      }),
    ]);
    await expect(as('carol').cancelTask({ taskId: waiting.id, reason: 'no' })).rejects.toEqual(
      denied(Code.PERMISSION_DENIED, /only the subject/),
    );
  });

  test("ListTasks: the subject's own tasks, an approver's inbox, an auditor's everything", async () => {
    const ids = (tasks: Task[]) => tasks.map((t) => t.id).sort();
    const list = (user: string, extra: Partial<ListTasksRequest> = {}) =>
      as(user).listTasks(ListTasksRequest.fromPartial(extra));
    expect(ids((await list('ada')).tasks)).toEqual(ids([delegated, waiting]));
    expect(ids((await list('carol')).tasks)).toEqual([carolsOwn.id]);
    const inbox = await list('carol', { waitingForMe: true });
    expect(ids(inbox.tasks)).toEqual([waiting.id]);
    expect(inbox.totalSize).toBe(1);
    // Four eyes: ada's own approval is not in her inbox.
    expect((await list('ada', { waitingForMe: true })).tasks).toEqual([]);
    expect((await list('ben', { waitingForMe: true })).tasks).toEqual([]);
    await expect(list('ada', { subject: 'carol' })).rejects.toEqual(
      denied(Code.PERMISSION_DENIED, /only auditors list other people's tasks/),
    );
    const all = await list('ben');
    expect(ids(all.tasks)).toEqual(ids([delegated, waiting, carolsOwn]));
    expect(all.totalSize).toBe(3);
    expect(ids((await list('ben', { subject: 'ada' })).tasks)).toEqual(ids([delegated, waiting]));
  });

  test('ListTasks refuses bad paging input through the server: INVALID_ARGUMENT', async () => {
    const list = (req: Partial<ListTasksRequest>) => as('ada').listTasks(ListTasksRequest.fromPartial(req));
    await expect(list({ pageSize: 101 })).rejects.toEqual(denied(Code.INVALID_ARGUMENT, /page_size: at most 100/));
    await expect(list({ pageToken: 'not-a-token' })).rejects.toEqual(denied(Code.INVALID_ARGUMENT, /page_token/));
  });
});
