import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code } from '../mesh/core/errors.js';
import { TASK_CHANNEL, type Store } from '../mesh/index.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

// Creating a task, appending an event and recording a step are one statement each on
// PostgreSQL: what each does, refuses and tells followers must be what the transaction did.
const who = 'test';
const rejectsWith = (code: Code, message?: RegExp) =>
  expect.objectContaining({ code, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe.each(BACKENDS)('task writes on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('demo/task-writes');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  // Resolves with the ids heard on the task channel once `last` is heard.
  function hear(last: string): { heard: Promise<string[]>; stop: Promise<() => void> } {
    const ids: string[] = [];
    let done: (ids: string[]) => void = () => undefined;
    const heard = new Promise<string[]>((resolve) => (done = resolve));
    const stop = store.notices.listen(TASK_CHANNEL, (id) => {
      if (id === undefined) return;
      ids.push(id);
      if (id === last) done(ids);
    });
    return { heard, stop };
  }

  test('a created task has its first version, its events in order and its lease; followers hear of it', async () => {
    const { heard, stop } = hear('created');
    try {
      await stop;
      const { task, created } = await store.tasks.create({
        id: 'created',
        contextId: 'c',
        principal: who,
        data: { n: 1 },
        events: [{ first: true }, { second: true }],
        lease: { owner: 'replica-1', ttlMs: 60_000 },
      });
      expect(created).toBe(true);
      expect(task).toMatchObject({ id: 'created', version: 1, state: TaskState.TASK_STATE_SUBMITTED, data: { n: 1 } });
      expect(task).toMatchObject({ owner: 'replica-1', fencing: 1 });
      expect(task.leaseUntil).toBeGreaterThan((await store.now()).getTime());
      expect(await heard).toContain('created');
      expect(await store.tasks.history('created')).toMatchObject([{ version: 1, data: { n: 1 }, principal: who }]);
      expect((await store.events.list('created')).map((e) => [e.sequence, e.event])).toEqual([
        [1, { first: true }],
        [2, { second: true }],
      ]);
      const plain = await store.tasks.create({ id: 'plain', contextId: 'c', principal: who });
      expect(plain.task).toMatchObject({ owner: undefined, fencing: 0, leaseUntil: undefined, data: {} });
    } finally {
      (await stop)();
    }
  });

  test('a change with many events stores them all, in order (SQLite writes them in chunks)', async () => {
    await store.tasks.create({ id: 'many', contextId: 'c', principal: who });
    const events = Array.from({ length: 19 }, (_, i) => ({ n: i + 1 }));
    await store.tasks.update('many', { expectedVersion: 1, principal: who, events });
    expect((await store.events.list('many')).map((e) => [e.sequence, e.event])).toEqual(
      events.map((e, i) => [i + 1, e]),
    );
  });

  test('a task id already taken is ALREADY_EXISTS and leaves its request id free for the retry', async () => {
    await store.tasks.create({ id: 'taken', contextId: 'c', principal: who });
    await expect(store.tasks.create({ id: 'taken', contextId: 'c', principal: who, requestId: 'r1' })).rejects.toEqual(
      rejectsWith(Code.ALREADY_EXISTS, /task taken already exists/),
    );
    const retry = await store.tasks.create({ id: 'fresh', contextId: 'c', principal: who, requestId: 'r1' });
    expect(retry).toMatchObject({ created: true, task: { id: 'fresh' } });
    const again = await store.tasks.create({ id: 'other', contextId: 'c', principal: who, requestId: 'r1' });
    expect(again).toMatchObject({ created: false, task: { id: 'fresh' } });
    expect(await store.tasks.find('other')).toBeUndefined();
    expect(await store.checkIntegrity()).toEqual([]);
  });

  test('inside a transaction a taken id is refused without undoing the rest of the transaction', async () => {
    await store.tasks.create({ id: 'busy', contextId: 'c', principal: who });
    await store.atomically(async (tx) => {
      await expect(tx.tasks.create({ id: 'busy', contextId: 'c', principal: who })).rejects.toEqual(
        rejectsWith(Code.ALREADY_EXISTS),
      );
      await tx.tasks.create({ id: 'beside', contextId: 'c', principal: who });
      await tx.events.append('beside', { inside: true }, who);
    });
    expect((await store.events.list('beside')).map((e) => e.event)).toEqual([{ inside: true }]);
  });

  test('an appended event is heard once committed, never when its transaction rolls back', async () => {
    await store.tasks.create({ id: 'quiet', contextId: 'c', principal: who });
    await store.tasks.create({ id: 'loud', contextId: 'c', principal: who });
    const { heard, stop } = hear('loud');
    try {
      await stop;
      await expect(
        store.atomically(async (tx) => {
          await tx.events.append('quiet', { rolledBack: true }, who);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow();
      expect(await store.events.append('loud', { kept: true }, who)).toMatchObject({ sequence: 1 });
      expect(await heard).not.toContain('quiet');
      expect(await store.events.list('quiet')).toEqual([]);
      await expect(store.events.append('absent', {}, who)).rejects.toEqual(rejectsWith(Code.NOT_FOUND));
    } finally {
      (await stop)();
    }
  });

  test('step transitions take sequences 1, 2, 3…; an unknown task is NOT_FOUND', async () => {
    await store.tasks.create({ id: 'stepped', contextId: 'c', principal: who });
    const running = { state: StepState.STEP_STATE_RUNNING, principal: who };
    const first = await store.steps.record('stepped', { ...running, stepId: 'a', detail: { key: 'k' } });
    expect(first).toMatchObject({ sequence: 1, stepId: 'a', attempt: 1, detail: { key: 'k' } });
    const second = await store.steps.record('stepped', { ...running, stepId: 'b', attempt: 2 });
    expect(second).toMatchObject({ sequence: 2, stepId: 'b', attempt: 2, detail: undefined });
    await expect(store.steps.record('absent', { ...running, stepId: 'a' })).rejects.toEqual(
      rejectsWith(Code.NOT_FOUND, /task absent not found/),
    );
  });
});
