import type { Kysely } from 'kysely';
import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState, type Message } from '../gen/agentmesh/v1/task.js';
import { migrate } from '../mesh/state/migrate.js';
import { startTestMesh, type RunningAgent, type TestMesh } from '../mesh/testing/index.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';
import { closeBackend, openBackend, releaseMigrations, testMigrationNames } from './helpers/test-releases.js';

const AGENT = 'demo/canary';
const text = (t: string): Message => ({
  messageId: `m-${t}`,
  contextId: '',
  taskId: '',
  role: 1,
  parts: [{ content: { $case: 'text', text: t }, metadata: undefined, filename: '', mediaType: '' }],
  metadata: undefined,
  referenceTaskIds: [],
});
const data = (d: Record<string, unknown>): Message => ({
  ...text('request'),
  parts: [{ content: { $case: 'data', data: d }, metadata: undefined, filename: '', mediaType: '' }],
});

describe('canary: two versions of one agent over one PostgreSQL schema', () => {
  let fx: BackendFixture;
  let mesh: TestMesh;

  beforeAll(async () => {
    fx = await postgresFixture();
    mesh = await startTestMesh({ agents: [AGENT] });
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await fx?.cleanup();
  });

  const start = (replica: 'v1' | 'v2', version: string) =>
    mesh.startAgent('test/fixtures/canary-agent.ts', {
      name: AGENT,
      replica,
      env: { ...fx.env, CANARY_VERSION: version },
    });
  const on = (replica: RunningAgent) => mesh.agent(AGENT, { address: replica.address });

  test('a task v1 started that waits for a person is read, answered, explained and finished through v2; v1 restarts on the expanded schema', async () => {
    let v1 = await start('v1', '1.0.0');
    const { task } = await on(v1).sendTask({
      requestId: 'loan-1',
      skillId: 'loan',
      message: data({ customer: 'C-7' }),
      configuration: { blocking: false, historyLength: 0, timeout: undefined },
    });
    const taskId = task!.id;
    // Another process's progress shows only in its answers: polled until it holds (jest's timeout bounds it).
    const stateOn = async (replica: RunningAgent) =>
      (await on(replica).getTask({ taskId, historyLength: 0 })).task!.status!;
    while ((await stateOn(v1)).state !== TaskState.TASK_STATE_INPUT_REQUIRED)
      await new Promise((r) => setTimeout(r, 50));

    // The rollout begins: v2's release expands the shared schema (as its first replica would at start)...
    const backend = openBackend(AGENT, fx.config());
    try {
      await migrate(backend.db as unknown as Kysely<unknown>, {
        types: backend.types,
        schema: backend.schema,
        migrations: releaseMigrations('v2', backend.types),
      });
    } finally {
      await closeBackend(backend);
    }
    const v2 = await start('v2', '1.1.0');
    expect((await on(v1).getAgentCard({})).card?.version).toBe('1.0.0');
    expect((await on(v2).getAgentCard({})).card?.version).toBe('1.1.0');

    // ...and a v1 replica restarts meanwhile (node drain): it starts on the expanded schema and still serves the task.
    await v1.process.stop();
    v1 = await start('v1', '1.0.0');
    const newer = testMigrationNames(backend.types).expand;
    expect(v1.process.tail()).toContain(
      `state schema version ${parseInt(newer, 10)} is newer; compatible with this code`,
    );
    expect((await stateOn(v1)).state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

    // v2 reads the task v1 started, with the question v1 asked.
    const waiting = await stateOn(v2);
    expect(waiting.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(waiting.inputRequest).toMatchObject({
      stepId: 'approve',
      prompt: 'Approve this loan?',
      choices: ['yes', 'no'],
    });

    // The person answers through v2, which runs the rest of v1's plan.
    await on(v2).provideInput({ taskId, stepId: 'approve', message: text('yes'), expectedVersion: 0 });
    while ((await stateOn(v2)).state !== TaskState.TASK_STATE_COMPLETED) await new Promise((r) => setTimeout(r, 50));

    const { explanation } = await on(v2).explainTask({ taskId, maxDepth: 0 });
    expect(explanation?.planning?.playbookId).toBe('loan');
    expect(explanation?.execution.map((e) => [e.stepId, e.state])).toEqual(
      expect.arrayContaining([
        ['approve', StepState.STEP_STATE_SUCCEEDED],
        ['book', StepState.STEP_STATE_SUCCEEDED],
      ]),
    );
    // The booking ran on v2: its local tool answered with v2's version, and the choice records it.
    const book = explanation!.execution.find((e) => e.stepId === 'book')!;
    expect(book.output).toEqual({ customer: 'C-7', bookedBy: '1.1.0' });
    expect(explanation?.collaborators.find((c) => c.stepId === 'book')).toMatchObject({
      name: AGENT,
      version: '1.1.0',
    });
    expect(book.attempts.map((a) => a.idempotencyKey)).toEqual([`${taskId}:book:1`]);

    // Either version tells the same story.
    expect((await stateOn(v1)).state).toBe(TaskState.TASK_STATE_COMPLETED);
    const fromV1 = (await on(v1).explainTask({ taskId, maxDepth: 0 })).explanation;
    expect(fromV1?.execution).toEqual(explanation?.execution);
  }, 240_000);
});
