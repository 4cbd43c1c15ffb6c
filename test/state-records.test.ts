import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code } from '../mesh/core/errors.js';
import type { Store } from '../mesh/index.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

const S = TaskState;
const alice = 'spiffe://agentmesh.local/ns/demo/sa/alice';
const bob = 'user:bob';
const rejectsWith = (code: Code, message?: RegExp) =>
  expect.objectContaining({ code, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe.each(BACKENDS)('state records on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('demo/records');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  test("now() reads the database's clock (the one deadlines are judged by), in epoch milliseconds", async () => {
    const first = await store.now();
    const second = await store.now();
    expect(Number.isNaN(first.getTime())).toBe(false);
    // Same machine here: the database's clock and ours agree to well within a minute.
    expect(Math.abs(first.getTime() - Date.now())).toBeLessThan(60_000);
    expect(second.getTime()).toBeGreaterThanOrEqual(first.getTime());
  });

  test('a conversation keeps every version with who, when and why', async () => {
    const before = Date.now();
    const v1 = await store.conversations.create('ctx-1', { state: { turns: ['hi'] }, principal: alice });
    const v2 = await store.conversations.update('ctx-1', {
      expectedVersion: 1,
      state: { turns: ['hi', 'hello'] },
      principal: bob,
      reason: 'reply',
    });
    expect(v1).toMatchObject({ contextId: 'ctx-1', version: 1, createdBy: alice });
    expect(v2).toMatchObject({ version: 2, state: { turns: ['hi', 'hello'] }, createdBy: alice, updatedBy: bob });
    const history = await store.conversations.history('ctx-1');
    expect(history.map((h) => [h.version, h.principal, h.reason])).toEqual([
      [1, alice, undefined],
      [2, bob, 'reply'],
    ]);
    for (const h of history) expect(h.at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    await expect(store.conversations.create('ctx-1', { state: {}, principal: alice })).rejects.toEqual(
      rejectsWith(Code.ALREADY_EXISTS),
    );
    await expect(store.conversations.get('nope')).rejects.toEqual(rejectsWith(Code.NOT_FOUND));
  });

  test('rollback restores an earlier state as a new version and records the reason', async () => {
    await store.conversations.create('ctx-rb', { state: { step: 1 }, principal: alice });
    await store.conversations.update('ctx-rb', { expectedVersion: 1, state: { step: 2 }, principal: alice });
    await store.conversations.update('ctx-rb', { expectedVersion: 2, state: { step: 3, bad: true }, principal: alice });
    const restored = await store.conversations.rollback('ctx-rb', {
      toVersion: 1,
      expectedVersion: 3,
      reason: 'hallucinated step',
      principal: bob,
    });
    expect(restored).toMatchObject({ version: 4, state: { step: 1 }, updatedBy: bob });
    expect(await store.conversations.version('ctx-rb', 4)).toMatchObject({
      restoredFrom: 1,
      reason: 'hallucinated step',
      principal: bob,
    });
    expect((await store.conversations.history('ctx-rb')).map((h) => h.state)).toEqual([
      { step: 1 },
      { step: 2 },
      { step: 3, bad: true },
      { step: 1 },
    ]);
    await expect(
      store.conversations.rollback('ctx-rb', { toVersion: 2, expectedVersion: 3, reason: 'x', principal: bob }),
    ).rejects.toEqual(rejectsWith(Code.ABORTED, /version 4, not 3/));
    await expect(
      store.conversations.rollback('ctx-rb', { toVersion: 9, expectedVersion: 4, reason: 'x', principal: bob }),
    ).rejects.toEqual(rejectsWith(Code.NOT_FOUND));
    await expect(
      store.conversations.rollback('ctx-rb', { toVersion: 1, expectedVersion: 4, reason: '', principal: bob }),
    ).rejects.toEqual(rejectsWith(Code.INVALID_ARGUMENT));
  });

  test('tasks follow the A2A lifecycle; illegal transitions are refused and change nothing', async () => {
    const { task } = await store.tasks.create({
      id: 't-life',
      contextId: 'ctx-1',
      principal: alice,
      data: { skill: 'score' },
    });
    expect(task).toMatchObject({ state: S.TASK_STATE_SUBMITTED, version: 1, data: { skill: 'score' } });
    await expect(
      store.tasks.update('t-life', { expectedVersion: 1, state: S.TASK_STATE_COMPLETED, principal: alice }),
    ).rejects.toEqual(rejectsWith(Code.FAILED_PRECONDITION, /SUBMITTED to COMPLETED/));
    const working = await store.tasks.update('t-life', {
      expectedVersion: 1,
      state: S.TASK_STATE_WORKING,
      principal: alice,
    });
    const waiting = await store.tasks.update('t-life', {
      expectedVersion: working.version,
      state: S.TASK_STATE_INPUT_REQUIRED,
      principal: alice,
    });
    const resumed = await store.tasks.update('t-life', {
      expectedVersion: waiting.version,
      state: S.TASK_STATE_WORKING,
      principal: bob,
      reason: 'input given',
    });
    const done = await store.tasks.update('t-life', {
      expectedVersion: resumed.version,
      state: S.TASK_STATE_COMPLETED,
      principal: alice,
      data: { score: 7 },
    });
    expect(done).toMatchObject({ state: S.TASK_STATE_COMPLETED, version: 5, data: { score: 7 }, updatedBy: alice });
    for (const to of [S.TASK_STATE_WORKING, S.TASK_STATE_CANCELED, S.TASK_STATE_COMPLETED]) {
      await expect(store.tasks.update('t-life', { expectedVersion: 5, state: to, principal: alice })).rejects.toEqual(
        rejectsWith(Code.FAILED_PRECONDITION),
      );
    }
    await expect(
      store.tasks.update('t-life', { expectedVersion: 5, data: { score: 0 }, principal: alice }),
    ).rejects.toEqual(rejectsWith(Code.FAILED_PRECONDITION, /COMPLETED and can no longer change/));
    expect(await store.tasks.get('t-life')).toMatchObject({
      state: S.TASK_STATE_COMPLETED,
      version: 5,
      data: { score: 7 },
    });
    const history = await store.tasks.history('t-life');
    expect(history.map((h) => [h.version, h.state, h.principal])).toEqual([
      [1, S.TASK_STATE_SUBMITTED, alice],
      [2, S.TASK_STATE_WORKING, alice],
      [3, S.TASK_STATE_INPUT_REQUIRED, alice],
      [4, S.TASK_STATE_WORKING, bob],
      [5, S.TASK_STATE_COMPLETED, alice],
    ]);
    expect(history[3]?.reason).toBe('input given');
    await expect(
      store.tasks.update('missing', { expectedVersion: 1, state: S.TASK_STATE_WORKING, principal: alice }),
    ).rejects.toEqual(rejectsWith(Code.NOT_FOUND));
  });

  test('task events are append-only with sequences 1, 2, 3… written with the change they describe', async () => {
    await store.tasks.create({
      id: 't-ev',
      contextId: 'ctx-2',
      principal: alice,
      events: [{ statusUpdate: { state: 'TASK_STATE_SUBMITTED' } }],
    });
    await store.tasks.update('t-ev', {
      expectedVersion: 1,
      state: S.TASK_STATE_WORKING,
      principal: alice,
      events: [{ statusUpdate: { state: 'TASK_STATE_WORKING' } }],
    });
    const appended = await store.events.append('t-ev', { artifactUpdate: { artifact: { artifactId: 'a1' } } }, bob);
    expect(appended).toMatchObject({ sequence: 3, principal: bob });
    // A refused change must not leave its event behind.
    await expect(
      store.tasks.update('t-ev', { expectedVersion: 1, principal: alice, events: [{ lost: true }] }),
    ).rejects.toEqual(rejectsWith(Code.ABORTED));
    const events = await store.events.list('t-ev');
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(events[2]?.event).toEqual({ artifactUpdate: { artifact: { artifactId: 'a1' } } });
    expect((await store.events.list('t-ev', { afterSequence: 1 })).map((e) => e.sequence)).toEqual([2, 3]);
    await expect(store.events.append('missing', {}, bob)).rejects.toEqual(rejectsWith(Code.NOT_FOUND));
  });

  test('plans and execution records are immutable: a second write of the same id fails', async () => {
    await store.tasks.create({ id: 't-plan', contextId: 'ctx-3', principal: alice });
    const plan = {
      planId: 'p1',
      taskId: 't-plan',
      revision: 1,
      plan: { goal: 'score', steps: [{ id: 'fetch' }] },
      principal: alice,
    };
    expect(await store.plans.put(plan)).toMatchObject({ planId: 'p1', revision: 1, principal: alice });
    await expect(store.plans.put({ ...plan, plan: { goal: 'tampered' } })).rejects.toEqual(
      rejectsWith(Code.ALREADY_EXISTS),
    );
    await expect(store.plans.put({ ...plan, planId: 'p1-dup' })).rejects.toEqual(
      rejectsWith(Code.ALREADY_EXISTS, /revision 1/),
    );
    await store.plans.put({ ...plan, planId: 'p2', revision: 2, plan: { goal: 'score again' } });
    expect((await store.plans.get('p1')).plan).toEqual({ goal: 'score', steps: [{ id: 'fetch' }] });
    expect((await store.plans.latest('t-plan'))?.planId).toBe('p2');

    const record = {
      id: 't-plan/fetch/1',
      taskId: 't-plan',
      kind: 'step-execution',
      record: { code: 'OK' },
      principal: alice,
    };
    await store.records.put(record);
    await expect(store.records.put({ ...record, record: { code: 'INTERNAL' } })).rejects.toEqual(
      rejectsWith(Code.ALREADY_EXISTS),
    );
    expect((await store.records.list('t-plan', 'step-execution')).map((r) => r.record)).toEqual([{ code: 'OK' }]);
    await expect(store.plans.put({ ...plan, planId: 'p-orphan', taskId: 'no-such-task' })).rejects.toEqual(
      rejectsWith(Code.NOT_FOUND),
    );
  });

  test('unfinished tasks are listed with their last completed step, for resuming after a restart', async () => {
    await store.tasks.create({ id: 't-resume', contextId: 'ctx-4', principal: alice });
    await store.tasks.update('t-resume', { expectedVersion: 1, state: S.TASK_STATE_WORKING, principal: alice });
    const record = (stepId: string, state: StepState, detail?: unknown) =>
      store.steps.record('t-resume', { stepId, state, principal: alice, detail });
    await record('fetch', StepState.STEP_STATE_RUNNING);
    await record('fetch', StepState.STEP_STATE_SUCCEEDED, { output: { income: 5 } });
    await record('score', StepState.STEP_STATE_RUNNING, { idempotencyKey: 't-resume/score/1' });
    await store.tasks.create({ id: 't-finished', contextId: 'ctx-4', principal: alice });
    await store.tasks.update('t-finished', { expectedVersion: 1, state: S.TASK_STATE_REJECTED, principal: alice });
    await expect(
      store.steps.record('t-finished', { stepId: 'x', state: StepState.STEP_STATE_RUNNING, principal: alice }),
    ).rejects.toEqual(rejectsWith(Code.FAILED_PRECONDITION));

    const unfinished = await store.steps.unfinished();
    const resume = unfinished.find((u) => u.task.id === 't-resume');
    expect(unfinished.map((u) => u.task.id)).not.toContain('t-finished');
    expect(resume?.lastCompletedStep).toMatchObject({
      stepId: 'fetch',
      state: StepState.STEP_STATE_SUCCEEDED,
      detail: { output: { income: 5 } },
    });
    expect(resume?.steps.map((s) => [s.stepId, s.state, s.sequence])).toEqual([
      ['fetch', StepState.STEP_STATE_SUCCEEDED, 2],
      ['score', StepState.STEP_STATE_RUNNING, 3],
    ]);
  });

  test('bad input is refused before it reaches the database', async () => {
    await expect(store.tasks.create({ id: '', contextId: 'c', principal: alice })).rejects.toEqual(
      rejectsWith(Code.INVALID_ARGUMENT, /task id/),
    );
    await expect(store.tasks.create({ id: 'x', contextId: 'c', principal: '' })).rejects.toEqual(
      rejectsWith(Code.INVALID_ARGUMENT, /principal/),
    );
    await expect(
      store.conversations.update('ctx-1', { expectedVersion: 0, state: {}, principal: alice }),
    ).rejects.toEqual(rejectsWith(Code.INVALID_ARGUMENT));
    await expect(store.conversations.create('ctx-big', { state: { n: 1n }, principal: alice })).rejects.toEqual(
      rejectsWith(Code.INVALID_ARGUMENT),
    );
    expect(await store.checkIntegrity()).toEqual([]);
  });
});
