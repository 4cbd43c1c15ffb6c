import { TaskState } from '../gen/agentmesh/v1/task.js';
import { TERMINAL_STATES } from '../mesh/index.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';
import { AGENT, EFFECTS, effects, Gate, request, startReplica, until, type Replica } from './helpers/agent-replicas.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

const TASKS = 300;
const LEASE_MS = 4_000;

describe('a burst of tasks spread over three replicas, one of them killed meanwhile', () => {
  let fx: BackendFixture;
  let mesh: TestMesh;
  let tools: StubToolService;
  const gate = new Gate();
  const replicas: Replica[] = [];

  beforeAll(async () => {
    fx = await postgresFixture();
    mesh = await startTestMesh({ agents: [AGENT], tools: [EFFECTS] });
    tools = await mesh.stubTools(EFFECTS, effects(gate));
    gate.open();
    for (const name of ['r1', 'r2', 'r3']) replicas.push(await startReplica(mesh, fx, tools, name, LEASE_MS));
  }, 180_000);

  afterAll(async () => {
    await mesh?.stop();
    await fx?.cleanup();
  });

  test('every task completes, each of its steps acted exactly once, none left owned', async () => {
    // Clients spread the calls round-robin, all at once; every other task has three steps.
    const sent = await Promise.all(
      Array.from({ length: TASKS }, (_, i) =>
        replicas[i % replicas.length]!.client.sendTask(request(i % 2 ? 'work' : 'quick', `burst-${i}`)),
      ),
    );
    const ids = sent.map((r) => r.task!.id);
    expect(new Set(ids).size).toBe(TASKS);
    // One replica dies mid-burst; its tasks are taken over by the others, then it comes back.
    replicas[2]!.agent.process.child.kill('SIGKILL');
    await replicas[2]!.agent.process.exited;
    replicas[2] = await startReplica(mesh, fx, tools, 'r3', LEASE_MS);

    const states = await until(async () => {
      const rows = await fx.sql(AGENT, `SELECT state, count(*)::int AS n FROM tasks GROUP BY state`);
      const live = rows.filter((r) => !TERMINAL_STATES.includes(Number(r.state)));
      const total = rows.reduce((n, r) => n + Number(r.n), 0);
      return total === TASKS && live.length === 0 ? rows : undefined;
    });
    expect(states).toEqual([{ state: TaskState.TASK_STATE_COMPLETED, n: TASKS }]);

    // Exactly once: one action per idempotency key, and each task's keys are its plan's steps.
    const keys = tools.calls.map((c) => c.idempotencyKey);
    expect(keys.length).toBe(new Set(keys).size);
    const byTask = new Map<string, string[]>();
    for (const c of tools.calls) byTask.set(c.taskId, [...(byTask.get(c.taskId) ?? []), c.stepId]);
    ids.forEach((id, i) =>
      expect([id, (byTask.get(id) ?? []).sort()]).toEqual([id, i % 2 ? ['first', 'last', 'middle'] : ['only']]),
    );
    expect(await fx.sql(AGENT, `SELECT count(*)::int AS n FROM tasks WHERE owner IS NOT NULL`)).toEqual([{ n: 0 }]);
    // Each task's result event was written once.
    const results = await fx.sql(
      AGENT,
      `SELECT task_id, count(*)::int AS n FROM task_events WHERE event ? 'artifactUpdate' GROUP BY task_id HAVING count(*) <> 1`,
    );
    expect(results).toEqual([]);
  }, 300_000);
});
