import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';
import {
  AGENT,
  EFFECTS,
  effects,
  footprint,
  Gate,
  leaseOf,
  request,
  startReplica,
  until,
  type Replica,
} from './helpers/agent-replicas.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

// Short enough for quick takeovers, long enough that a loaded machine's renewals keep up.
const LEASE_MS = 3_000;

describe('replicas of an agent over one PostgreSQL: a task whose owner dies, hangs or restarts is finished once', () => {
  let fx: BackendFixture;
  let mesh: TestMesh;
  let tools: StubToolService;
  const gate = new Gate();
  const replicas: Record<string, Replica> = {};

  beforeAll(async () => {
    fx = await postgresFixture();
    mesh = await startTestMesh({ agents: [AGENT], tools: [EFFECTS] });
    tools = await mesh.stubTools(EFFECTS, effects(gate));
    for (const name of ['r1', 'r2', 'r3']) replicas[name] = await startReplica(mesh, fx, tools, name, LEASE_MS);
  }, 180_000);

  afterAll(async () => {
    for (const r of Object.values(replicas)) if (r.agent.process.running) r.agent.process.child.kill('SIGCONT');
    await mesh?.stop();
    await fx?.cleanup();
  });

  beforeEach(() => gate.close());

  /** Starts a `work` task on a replica and waits until it is mid-plan: its middle step acts and waits at the gate. */
  async function midPlan(on: Replica, requestId: string): Promise<string> {
    const { task } = await on.client.sendTask(request('work', requestId));
    await until(async () => (tools.callsOf('act-gated').some((c) => c.taskId === task!.id) ? true : undefined));
    return task!.id;
  }

  /** Waits for the task to end (read from any replica's answers: the store is shared). */
  const finished = (via: Replica, taskId: string) =>
    until(async () => {
      const state = (await via.client.getTask({ taskId, historyLength: 0 })).task!.status!.state;
      return [TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED].includes(
        state,
      )
        ? state
        : undefined;
    });

  /** A replica's count of task lease events (takeover, lost), from its /metrics. */
  const leaseEvents = async (r: Replica, event: string) => {
    const text = await (await fetch(`http://${r.agent.admin}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('agentmesh_task_leases_total{') && l.includes(`event="${event}"`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  /** The tool calls of one task, as "tool step key". */
  const actions = (taskId: string) =>
    tools.calls.filter((c) => c.taskId === taskId).map((c) => `${c.tool} ${c.stepId} ${c.idempotencyKey}`);

  const expectActedOnce = (taskId: string) =>
    expect(actions(taskId).sort()).toEqual(
      [`act first ${taskId}:first:1`, `act last ${taskId}:last:1`, `act-gated middle ${taskId}:middle:1`].sort(),
    );

  test('kill -9 of the owner mid-plan: another replica takes the task over and every step acts once', async () => {
    const { r1, r2 } = replicas as Record<string, Replica>;
    const taskId = await midPlan(r1!, 'kill-1');
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: r1!.id, fencing: 1 });

    r1!.agent.process.child.kill('SIGKILL');
    expect(await r1!.agent.process.exited).toBe('SIGKILL');
    // The call r1 sent still completes at the tool; r1 never hears of it.
    gate.open();

    expect(await finished(r2!, taskId)).toBe(TaskState.TASK_STATE_COMPLETED);
    expectActedOnce(taskId);
    const lease = await leaseOf(fx, taskId);
    // Taken over once (token 2) and given up when the task completed.
    expect(lease).toMatchObject({ owner: null, fencing: 2 });
    // One replica logged the takeover, naming the dead owner.
    const takeovers = ['r2', 'r3'].flatMap((n) =>
      replicas[n]!.agent.process.tail()
        .split('\n')
        .filter((line) => line.includes('took over a task') && line.includes(taskId))
        .map((line) => ({ by: n, ...(JSON.parse(line) as { previous_owner: string; fencing: number }) })),
    );
    expect(takeovers).toHaveLength(1);
    expect(takeovers[0]).toMatchObject({ previous_owner: r1!.id, fencing: 2 });
    expect(await leaseEvents(replicas[takeovers[0]!.by]!, 'takeover')).toBe(1);
    // The re-sent middle step kept its one key; the stored result answered it.
    const { explanation } = await r2!.client.explainTask({ taskId, maxDepth: 0 });
    const middle = explanation!.execution.find((e) => e.stepId === 'middle')!;
    expect(new Set(middle.attempts.map((a) => a.idempotencyKey))).toEqual(new Set([`${taskId}:middle:1`]));
  }, 180_000);

  test('SIGSTOP of the owner (its socket still accepts): another replica finishes; continued, the stopped one writes nothing', async () => {
    const { r2, r3 } = replicas as Record<string, Replica>;
    const taskId = await midPlan(r2!, 'stop-1');
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: r2!.id, fencing: 1 });

    r2!.agent.process.child.kill('SIGSTOP');
    let before: Record<string, number>;
    try {
      // Taken over while r2's call still hangs at the tool.
      const taken = await until(async () => {
        const lease = await leaseOf(fx, taskId);
        return lease.fencing > 1 ? lease : undefined;
      });
      expect(taken.owner).not.toBe(r2!.id);
      gate.open();
      expect(await finished(r3!, taskId)).toBe(TaskState.TASK_STATE_COMPLETED);
      expectActedOnce(taskId);
    } finally {
      before = await footprint(fx, taskId);
      r2!.agent.process.child.kill('SIGCONT');
    }
    // Woken, r2 learns that it lost the task and writes nothing for it.
    await until(async () => {
      const tail = r2!.agent.process.tail();
      return tail.includes('lease of task lost') && tail.includes(taskId) ? true : undefined;
    });
    expect(await footprint(fx, taskId)).toEqual(before);
    expect(await leaseEvents(r2!, 'lost')).toBe(1);
    expect((await r3!.client.getTask({ taskId, historyLength: 0 })).task!.status!.state).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );
    expectActedOnce(taskId);
  }, 180_000);

  test('a restarting replica does not take tasks whose owner is alive', async () => {
    const { r3 } = replicas as Record<string, Replica>;
    const taskId = await midPlan(r3!, 'restart-1');
    // r1 (killed earlier) starts again: its start-up scan must leave r3's task alone.
    replicas.r1 = await startReplica(mesh, fx, tools, 'r1', LEASE_MS);
    await replicas.r1.agent.process.waitForLog('takeover scan at start-up done');
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: r3!.id, fencing: 1 });

    gate.open();
    expect(await finished(replicas.r1, taskId)).toBe(TaskState.TASK_STATE_COMPLETED);
    expectActedOnce(taskId);
    // One executor: the middle step was started once.
    const started = await fx.sql(
      AGENT,
      `SELECT count(*)::int AS n FROM step_transitions WHERE task_id = '${taskId}' AND step_id = 'middle' AND state = ${StepState.STEP_STATE_RUNNING}`,
    );
    expect(started).toEqual([{ n: 1 }]);
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: null, fencing: 1 });
  }, 180_000);
});
