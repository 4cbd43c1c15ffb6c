import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AgentServiceService, type SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import type { MeshClient, ToolSpec } from '../mesh/index.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';

const request = (requestId: string, skillId: string): SendTaskRequest => ({
  requestId,
  skillId,
  message: {
    messageId: requestId,
    contextId: '',
    taskId: '',
    role: 1,
    parts: [{ content: { $case: 'data', data: {} }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    referenceTaskIds: [],
  },
  configuration: { blocking: false, historyLength: 0, timeout: undefined },
});
// Another process's progress shows only in files and answers: polled until it is there, however long the
// machine takes (each test's own timeout is the bound).
const until = async (check: () => boolean | Promise<boolean>) => {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
};

// `count` acts and answers; `count-slowly` acts at once and answers only when the test opens the
// gate (an agent killed meanwhile never hears that it acted). A call reaches a handler only when it
// really acts: a repeated idempotency key is answered from the stored result.
let openGate: () => void = () => undefined;
const count = (name: string, gated: boolean): ToolSpec => ({
  name,
  description: 'Records one side effect',
  argumentsSchema: { type: 'object', properties: { label: { type: 'string' } } },
  async handler(args, ctx) {
    if (gated) await new Promise<void>((resolve) => (openGate = resolve));
    return { label: args.label, key: ctx.idempotencyKey };
  },
});

describe('an agent killed with SIGKILL mid-plan finishes the task after a restart', () => {
  let mesh: TestMesh;
  let tools: StubToolService;
  const acted = () => tools.calls.map((c) => c.arguments.label);

  const startResumer = () =>
    mesh.startAgent('test/fixtures/resume-agent.ts', {
      name: 'demo/resumer',
      env: { AGENTMESH_COLLABORATOR_ADDRESSES: `demo/tools=${tools.address}` },
    });
  const settle = async (agent: MeshClient<typeof AgentServiceService>, taskId: string) => {
    let state = TaskState.TASK_STATE_WORKING;
    await until(async () => {
      state = (await agent.getTask({ taskId, historyLength: 0 })).task!.status!.state;
      return state === TaskState.TASK_STATE_COMPLETED || state === TaskState.TASK_STATE_FAILED;
    });
    return state;
  };

  beforeAll(async () => {
    mesh = await startTestMesh({ agents: ['demo/resumer', 'demo/delegator'], tools: ['demo/tools'] });
    tools = await mesh.stubTools('demo/tools', [count('count', false), count('count-slowly', true)]);
  }, 120_000);

  afterAll(() => mesh?.stop());

  test('every step acts exactly once, also the one that had acted when the agent died; it is re-sent with the same key', async () => {
    const first = await startResumer();
    const { task } = await mesh.agent('demo/resumer').sendTask(request('resume-1', 'run'));
    // Kill the agent after the slow step has acted, before it answers.
    await tools.waitForCalls('count-slowly');
    first.process.child.kill('SIGKILL');
    expect(await first.process.exited).toBe('SIGKILL');
    openGate();

    const second = await startResumer();
    const agent = mesh.agent('demo/resumer');
    expect(await settle(agent, task!.id)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(second.process.tail()).toContain('resuming unfinished tasks');
    expect(acted()).toEqual(['first', 'middle', 'last']);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 0 });
    const middle = explanation!.execution.find((e) => e.stepId === 'middle')!;
    expect(middle.attempts.map((a) => a.idempotencyKey)).toEqual([`${task!.id}:middle:1`]);
    second.process.child.kill('SIGKILL');
    await second.process.exited;
  }, 240_000);

  test("an agent step interrupted by a crash waits for its caller's authority (AUTH_REQUIRED), then resumes the same child task", async () => {
    tools.calls.length = 0;
    const resumer = await startResumer();
    const startDelegator = () =>
      mesh.startAgent('test/fixtures/delegating-agent.ts', {
        name: 'demo/delegator',
        env: { AGENTMESH_COLLABORATOR_ADDRESSES: `agent:demo/resumer=${resumer.address}` },
      });
    const first = await startDelegator();
    const { task } = await mesh.agent('demo/delegator').sendTask(request('delegate-1', 'delegate'));
    await tools.waitForCalls('count-slowly');
    first.process.child.kill('SIGKILL');
    await first.process.exited;
    openGate();

    const second = await startDelegator();
    // A fresh process holds no token of the caller: it cannot act for them, so the task waits instead of failing.
    const audit = join(second.dataDir, 'audit.jsonl');
    await until(() => existsSync(audit) && readFileSync(audit, 'utf8').includes('"outcome":"AUTH_REQUIRED"'));
    const agent = mesh.agent('demo/delegator');
    const waiting = (await agent.getTask({ taskId: task!.id, historyLength: 0 })).task!;
    expect(waiting.status!.state).toBe(TaskState.TASK_STATE_AUTH_REQUIRED);
    expect(
      waiting.status!.message!.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join(''),
    ).toContain('needs a current token of theirs');
    // That call handed over a current token: the task resumes and completes.
    expect(await settle(agent, task!.id)).toBe(TaskState.TASK_STATE_COMPLETED);
    // The child ran its steps once each, and the delegator's step followed the same child task under the same key.
    expect(acted()).toEqual(['first', 'middle', 'last']);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 2 });
    const child = explanation!.execution.find((e) => e.stepId === 'child')!;
    expect(child.attempts.map((a) => a.idempotencyKey)).toEqual([`${task!.id}:child:1`]);
    expect(explanation!.children[0]!.result?.$case).toBe('explanation');
  }, 240_000);
});
