import { sql } from 'kysely';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code, isMeshError } from '../mesh/core/errors.js';
import { isLeaseLost, TASK_CHANNEL, type Store } from '../mesh/index.js';
import { BACKENDS, postgresFixture, type BackendFixture } from './helpers/state-backends.js';

// Task transitions issued together: on PostgreSQL they are group-committed (several in one
// statement and transaction); each caller must still get exactly its own answer.
const who = 'test';
const S = TaskState;

describe.each(BACKENDS)('task transitions issued together on %s', (kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('demo/group-commit');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  async function working(id: string): Promise<void> {
    await store.tasks.create({ id, contextId: 'c', principal: who });
    await store.tasks.update(id, { expectedVersion: 1, principal: who, state: S.TASK_STATE_WORKING });
  }

  test('each caller gets its own answer: conflicts and refusals fail alone, the rest are stored', async () => {
    const good = ['g0', 'g1', 'g2', 'g3', 'g4'];
    for (const id of [...good, 'stale', 'illegal']) await working(id);
    const lease = { owner: 'r1', ttlMs: 60_000 };
    for (const id of ['leased', 'lost', 'taken'])
      await store.tasks.create({ id, contextId: 'c', principal: who, lease });

    const status = (state: TaskState) => ({ statusUpdate: { state } });
    const results = await Promise.allSettled([
      ...good.map((id) =>
        store.tasks.update(id, {
          expectedVersion: 2,
          principal: who,
          state: S.TASK_STATE_INPUT_REQUIRED,
          data: { id },
          reason: `reason ${id}`,
          events: [status(S.TASK_STATE_INPUT_REQUIRED), { note: id }],
        }),
      ),
      store.tasks.update('stale', { expectedVersion: 1, principal: who, state: S.TASK_STATE_COMPLETED }),
      store.tasks.update('illegal', { expectedVersion: 2, principal: who, state: S.TASK_STATE_SUBMITTED }),
      store.tasks.update('leased', {
        expectedVersion: 1,
        principal: who,
        state: S.TASK_STATE_WORKING,
        lease: { ...lease, fencing: 1 },
      }),
      store.tasks.update('lost', { expectedVersion: 1, principal: who, lease: { ...lease, fencing: 2 } }),
      store.tasks.update('taken', { expectedVersion: 1, principal: who, acquire: { owner: 'r2', ttlMs: 1_000 } }),
      store.tasks.update('missing', { expectedVersion: 1, principal: who }),
    ]);
    const reason = (i: number) => {
      const r = results[i]!;
      if (r.status === 'fulfilled') throw new Error(`result ${i} should have failed`);
      expect(isMeshError(r.reason)).toBe(true);
      return r.reason as { code: Code; message: string };
    };

    for (const [i, id] of good.entries()) {
      const r = results[i]!;
      expect(r).toMatchObject({ status: 'fulfilled', value: { id, version: 3, state: S.TASK_STATE_INPUT_REQUIRED } });
      expect((await store.tasks.history(id)).at(-1)).toMatchObject({
        version: 3,
        reason: `reason ${id}`,
        data: { id },
      });
      expect((await store.events.list(id)).map((e) => [e.sequence, e.event])).toEqual([
        [1, status(S.TASK_STATE_INPUT_REQUIRED)],
        [2, { note: id }],
      ]);
    }
    expect(reason(5)).toMatchObject({ code: Code.ABORTED, message: expect.stringMatching(/at version 2, not 1/) });
    expect(reason(6).code).toBe(Code.FAILED_PRECONDITION);
    expect(results[7]).toMatchObject({ status: 'fulfilled', value: { version: 2, owner: 'r1', fencing: 1 } });
    expect(isLeaseLost(reason(8))).toBe(true);
    expect(reason(9)).toMatchObject({ code: Code.ABORTED, message: expect.stringMatching(/run by another replica/) });
    expect(reason(10).code).toBe(Code.NOT_FOUND);
    // What failed changed nothing.
    for (const id of ['stale', 'illegal']) expect(await store.tasks.get(id)).toMatchObject({ version: 2 });
    for (const id of ['lost', 'taken']) expect(await store.tasks.get(id)).toMatchObject({ version: 1, owner: 'r1' });
    expect(await store.checkIntegrity()).toEqual([]);
  });

  test('every stored transition is heard by the task’s followers; a rolled-back one is not', async () => {
    const ids = ['n0', 'n1', 'n2', 'n3'];
    for (const id of [...ids, 'rolled-back', 'last']) await working(id);
    const heard: string[] = [];
    let last: () => void = () => undefined;
    const lastHeard = new Promise<void>((resolve) => (last = resolve));
    const stop = await store.notices.listen(TASK_CHANNEL, (id) => {
      if (id !== undefined) heard.push(id);
      if (id === 'last') last();
    });
    try {
      await Promise.all(ids.map((id) => store.tasks.update(id, { expectedVersion: 2, principal: who })));
      await expect(
        store.atomically(async (tx) => {
          await tx.tasks.update('rolled-back', { expectedVersion: 2, principal: who });
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow();
      await store.tasks.update('last', { expectedVersion: 2, principal: who });
      await lastHeard;
      expect([...new Set(heard)].sort()).toEqual([...ids, 'last'].sort());
      expect(await store.tasks.get('rolled-back')).toMatchObject({ version: 2 });
      expect(await store.tasks.history('rolled-back')).toHaveLength(2);
    } finally {
      stop();
    }
  });

  test('a transition the database refuses fails alone; those sent with it are stored', async () => {
    const ids = ['r0', 'r1', 'r2'];
    for (const id of [...ids, 'refused']) await working(id);
    // PostgreSQL's jsonb cannot hold a NUL character (SQLite's text can): the whole
    // statement of its batch fails, and the others must not fail with it.
    const results = await Promise.allSettled([
      ...ids.map((id) => store.tasks.update(id, { expectedVersion: 2, principal: who, events: [{ ok: id }] })),
      store.tasks.update('refused', { expectedVersion: 2, principal: who, events: [{ text: 'a\u0000b' }] }),
    ]);
    expect(results.slice(0, 3).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    for (const id of ids) expect(await store.events.list(id)).toHaveLength(1);
    if (kind === 'postgres') {
      expect(results[3]).toMatchObject({ status: 'rejected', reason: { code: Code.INTERNAL } });
      expect(await store.tasks.get('refused')).toMatchObject({ version: 2 });
      expect(await store.events.list('refused')).toEqual([]);
    } else expect(results[3]!.status).toBe('fulfilled');
  });
});

describe('PostgreSQL commit flush', () => {
  let fx: BackendFixture;
  beforeAll(async () => {
    fx = await postgresFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  const setting = async (store: Store) =>
    (await store.context.read((db) => sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db))).rows[0]
      ?.synchronous_commit;

  test('a column added to tasks while the store runs (a newer release expanding the schema) breaks no transition', async () => {
    const store = await fx.open('demo/expand');
    try {
      await store.tasks.create({ id: 't', contextId: 'c', principal: who });
      await store.tasks.update('t', { expectedVersion: 1, principal: who, state: S.TASK_STATE_WORKING });
      await fx.sql('demo/expand', 'alter table tasks add column added_later text');
      await expect(
        store.tasks.update('t', { expectedVersion: 2, principal: who, state: S.TASK_STATE_COMPLETED }),
      ).resolves.toMatchObject({ version: 3, state: S.TASK_STATE_COMPLETED });
    } finally {
      await store.close();
    }
  });

  test('commits wait for the flush unless AGENTMESH_DB_SYNCHRONOUS_COMMIT=off opts out', async () => {
    const durable = await fx.open('demo/durable');
    const fast = await fx.open('demo/fast', { AGENTMESH_DB_SYNCHRONOUS_COMMIT: 'off' });
    try {
      expect(await setting(durable)).toBe('on');
      expect(await setting(fast)).toBe('off');
      await fast.tasks.create({ id: 't', contextId: 'c', principal: who });
      expect(await fast.tasks.update('t', { expectedVersion: 1, principal: who })).toMatchObject({ version: 2 });
    } finally {
      await durable.close();
      await fast.close();
    }
  });
});
