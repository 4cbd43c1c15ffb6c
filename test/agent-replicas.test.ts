import type { StreamTaskResponse } from '../gen/agentmesh/v1/agent_service.js';
import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code } from '../mesh/index.js';
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

// No test here waits for a lease to lapse: a long one, so that a replica descheduled for a few
// seconds on a loaded machine is not taken over (the fencing tokens below would move).
const LEASE_MS = 30_000;

/** The state of a status event, if it is one. */
const statusOf = (r: StreamTaskResponse) =>
  r.event?.event?.$case === 'statusUpdate' ? r.event.event.statusUpdate.status?.state : undefined;

describe('any replica answers for any task', () => {
  let fx: BackendFixture;
  let mesh: TestMesh;
  let tools: StubToolService;
  const gate = new Gate();
  let r1: Replica;
  let r2: Replica;

  beforeAll(async () => {
    fx = await postgresFixture();
    mesh = await startTestMesh({ agents: [AGENT], tools: [EFFECTS] });
    tools = await mesh.stubTools(EFFECTS, effects(gate));
    r1 = await startReplica(mesh, fx, tools, 'r1', LEASE_MS);
    r2 = await startReplica(mesh, fx, tools, 'r2', LEASE_MS);
  }, 180_000);

  afterAll(async () => {
    await mesh?.stop();
    await fx?.cleanup();
  });

  /** Follows a task through a replica in the background: every event, until the stream ends. */
  function follow(via: Replica, taskId: string, afterSequence = 0) {
    const seen: StreamTaskResponse[] = [];
    const ended = (async () => {
      for await (const r of via.client.subscribeTask({ taskId, afterSequence })) seen.push(r);
    })();
    return { seen, ended };
  }

  test('a task started on replica 1 is followed, answered and explained through replica 2, which runs it on', async () => {
    const { task } = await r1.client.sendTask(request('review', 'review-1'));
    const taskId = task!.id;
    const followed = follow(r2, taskId);
    // Replica 2 hears of replica 1's progress as it happens (not by polling: the stream is live).
    await until(async () =>
      followed.seen.some((r) => statusOf(r) === TaskState.TASK_STATE_INPUT_REQUIRED) ? true : undefined,
    );
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: null, fencing: 1 });

    const answered = await r2.client.provideInput({
      taskId,
      stepId: 'approve',
      message: {
        messageId: 'answer-1',
        contextId: '',
        taskId,
        role: 1,
        parts: [{ content: { $case: 'text', text: 'yes' }, metadata: undefined, filename: '', mediaType: '' }],
        metadata: undefined,
        referenceTaskIds: [],
      },
      expectedVersion: 0,
    });
    expect(answered.task!.status!.state).toBe(TaskState.TASK_STATE_WORKING);
    await followed.ended;

    // Every event once, in order, no gap; the stream ended on the outcome.
    const sequences = followed.seen.map((r) => r.event!.sequence);
    const stored = (await fx.sql(AGENT, `SELECT sequence FROM task_events WHERE task_id = '${taskId}' ORDER BY 1`)).map(
      (r) => Number(r.sequence),
    );
    expect(sequences).toEqual([0, ...stored]);
    expect(stored).toEqual(stored.map((_, i) => i + 1));
    expect(statusOf(followed.seen.at(-1)!)).toBe(TaskState.TASK_STATE_COMPLETED);
    // The replica that took the answer ran the rest (it took the lease: token 2) and gave the lease up.
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: null, fencing: 2 });
    expect(tools.calls.filter((c) => c.taskId === taskId).map((c) => c.stepId)).toEqual(['prepare', 'finish']);

    // Resumed from a sequence on the other replica: exactly the rest.
    const rest = follow(r1, taskId, 3);
    await rest.ended;
    expect(rest.seen.map((r) => r.event!.sequence)).toEqual(stored.slice(3));

    const { explanation } = await r2.client.explainTask({ taskId, maxDepth: 0 });
    expect(explanation!.execution.map((e) => [e.stepId, e.state])).toEqual(
      expect.arrayContaining([
        ['prepare', StepState.STEP_STATE_SUCCEEDED],
        ['finish', StepState.STEP_STATE_SUCCEEDED],
      ]),
    );
  }, 120_000);

  test('a cancel received by a replica that does not run the task stops the owner at once; the owner writes nothing more', async () => {
    gate.close();
    const { task } = await r1.client.sendTask(request('work', 'cancel-1'));
    const taskId = task!.id;
    await until(async () => (tools.callsOf('act-gated').some((c) => c.taskId === taskId) ? true : undefined));
    expect(await leaseOf(fx, taskId)).toMatchObject({ owner: r1.id, fencing: 1 });
    const followed = follow(r2, taskId);
    const abortedBefore = gate.aborted;

    const canceled = await r2.client.cancelTask({ taskId, reason: 'changed my mind' });
    expect(canceled.task!.status!.state).toBe(TaskState.TASK_STATE_CANCELED);
    const after = await footprint(fx, taskId);
    // The owner, told by the store's notice, aborts its in-flight step: the tool sees its call canceled
    // (the step may wait an hour; nothing else ends it).
    await until(async () => (gate.aborted > abortedBefore ? true : undefined));
    await followed.ended;
    expect(statusOf(followed.seen.at(-1)!)).toBe(TaskState.TASK_STATE_CANCELED);
    // Revoked: nobody holds the task, and the old token is void.
    expect(await leaseOf(fx, taskId)).toMatchObject({ state: TaskState.TASK_STATE_CANCELED, owner: null, fencing: 2 });

    // The owner's run has unwound (its step was answered by the abort) without writing anything.
    const { explanation } = await r1.client.explainTask({ taskId, maxDepth: 0 });
    expect(explanation!.execution.find((e) => e.stepId === 'middle')).toBeUndefined();
    expect(await footprint(fx, taskId)).toEqual(after);
    expect(tools.calls.filter((c) => c.taskId === taskId).map((c) => c.stepId)).toEqual(['first', 'middle']);
    // A second cancel, through either replica, is refused and changes nothing.
    await expect(r1.client.cancelTask({ taskId, reason: '' })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
    });
    expect(await footprint(fx, taskId)).toEqual(after);
  }, 120_000);
});
