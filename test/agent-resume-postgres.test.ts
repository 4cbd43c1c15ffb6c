import type { SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import type { ToolSpec } from '../mesh/index.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

const request: SendTaskRequest = {
  requestId: 'pay-1',
  skillId: 'pay',
  message: {
    messageId: 'pay-1',
    contextId: '',
    taskId: '',
    role: 1,
    parts: [{ content: { $case: 'data', data: {} }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    referenceTaskIds: [],
  },
  configuration: { blocking: false, historyLength: 0, timeout: undefined },
};

// `pay-slowly` acts at once and answers only when the test opens the gate, so an agent killed
// meanwhile never hears that it paid. A call reaches a handler only when it really acts.
let openGate: () => void = () => undefined;
const tool = (name: string, gated: boolean): ToolSpec => ({
  name,
  description: 'Records one side effect',
  argumentsSchema: { type: 'object', required: ['label'] },
  async handler(args) {
    if (gated) await new Promise<void>((resolve) => (openGate = resolve));
    return { label: args.label };
  },
});

describe('an agent on PostgreSQL killed mid-step resumes it under the same key, and the tool acts once', () => {
  let fx: BackendFixture;
  let mesh: TestMesh;
  let tools: StubToolService;

  beforeAll(async () => {
    fx = await postgresFixture();
    mesh = await startTestMesh({ agents: ['demo/payer'], tools: ['demo/payments'] });
    tools = await mesh.stubTools('demo/payments', [tool('pay-slowly', true), tool('confirm', false)]);
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await fx?.cleanup();
  });

  const startPayer = () =>
    mesh.startAgent('test/fixtures/payment-resume-agent.ts', {
      name: 'demo/payer',
      env: { ...fx.env, AGENTMESH_COLLABORATOR_ADDRESSES: `demo/payments=${tools.address}` },
    });

  test('the re-sent payment, its arguments read back from jsonb in another key order, is answered from the stored result', async () => {
    const first = await startPayer();
    const { task } = await mesh.agent('demo/payer').sendTask(request);
    const [paid] = await tools.waitForCalls('pay-slowly');
    // The first attempt sent the arguments in the order the playbook wrote them.
    expect(Object.keys(paid!.arguments)).toEqual(['recipient', 'reference', 'label', 'amount']);
    first.process.child.kill('SIGKILL');
    expect(await first.process.exited).toBe('SIGKILL');
    openGate();

    const second = await startPayer();
    const agent = mesh.agent('demo/payer');
    // Another process's progress shows only in its answers: polled until it settles (the test's timeout is the bound).
    const settled = [TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED];
    let state = TaskState.TASK_STATE_WORKING;
    for (; !settled.includes(state); await new Promise((r) => setTimeout(r, 50))) {
      state = (await agent.getTask({ taskId: task!.id, historyLength: 0 })).task!.status!.state;
    }
    expect(second.process.tail()).toContain('resuming unfinished tasks');
    expect(state).toBe(TaskState.TASK_STATE_COMPLETED);
    // The plan it resumed was read back from PostgreSQL.
    expect(await fx.sql('demo/payer', `SELECT count(*)::int AS n FROM plans`)).toEqual([{ n: 1 }]);
    // Paid once, confirmed once; the payment step kept its one attempt and key.
    expect(tools.calls.map((c) => c.tool)).toEqual(['pay-slowly', 'confirm']);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 0 });
    const pay = explanation!.execution.find((e) => e.stepId === 'pay')!;
    expect(pay.attempts.map((a) => a.idempotencyKey)).toEqual([`${task!.id}:pay:1`]);
    second.process.child.kill('SIGKILL');
    await second.process.exited;
  }, 240_000);
});
