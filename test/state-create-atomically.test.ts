import { Code } from '../mesh/core/errors.js';
import type { Store } from '../mesh/index.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

// A creation refused for a taken task id must leave its request id (the client's idempotency key)
// unclaimed, inside `atomically` as outside: the caller's transaction goes on and may commit, and a
// claim that outlived the refusal would answer the client's retry with the task that holds the id
// (another principal's, say) as if its request had created it.
const alice = 'alice';
const bob = 'bob';
const alreadyExists = expect.objectContaining({
  code: Code.ALREADY_EXISTS,
  message: expect.stringMatching(/already exists/),
});

describe.each(BACKENDS)('a taken task id with a request id on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('demo/create-atomically');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  // Alice's task, holding the id Bob's creations will ask for.
  async function aliceTask(id: string): Promise<void> {
    await store.tasks.create({ id, contextId: 'alice-c', principal: alice, data: { secret: 'alice' } });
  }

  async function claims(requestId: string): Promise<unknown[]> {
    return fx.sql(
      'demo/create-atomically',
      `select task_id from task_requests where principal = '${bob}' and request_id = '${requestId}'`,
    );
  }

  test('inside atomically: refused, the transaction goes on, and the retry in it creates the task', async () => {
    await aliceTask('in-taken');
    await store.atomically(async (tx) => {
      await expect(
        tx.tasks.create({ id: 'in-taken', contextId: 'c', principal: bob, requestId: 'r-in' }),
      ).rejects.toEqual(alreadyExists);
      // The retry with a fresh id, in the same (still usable) transaction, with a lease this time.
      const retry = await tx.tasks.create({
        id: 'in-fresh',
        contextId: 'c',
        principal: bob,
        requestId: 'r-in',
        lease: { owner: 'replica-1', ttlMs: 60_000 },
      });
      expect(retry).toMatchObject({ created: true, task: { id: 'in-fresh', createdBy: bob, fencing: 1 } });
      await tx.events.append('in-fresh', { inside: true }, bob);
    });
    expect((await store.events.list('in-fresh')).map((e) => e.event)).toEqual([{ inside: true }]);
    // A replay of the request now answers the task it did create.
    const replay = await store.tasks.create({ id: 'in-other', contextId: 'c', principal: bob, requestId: 'r-in' });
    expect(replay).toMatchObject({ created: false, task: { id: 'in-fresh' } });
    expect(await store.tasks.find('in-other')).toBeUndefined();
    expect(await store.tasks.get('in-taken')).toMatchObject({ createdBy: alice, data: { secret: 'alice' } });
    expect(await store.checkIntegrity()).toEqual([]);
  });

  test('inside atomically: a transaction that commits after the refusal leaves the request id free', async () => {
    await aliceTask('after-taken');
    await store.atomically(async (tx) => {
      await expect(
        tx.tasks.create({
          id: 'after-taken',
          contextId: 'c',
          principal: bob,
          requestId: 'r-after',
          lease: { owner: 'replica-1', ttlMs: 60_000 },
        }),
      ).rejects.toEqual(alreadyExists);
      await tx.tasks.create({ id: 'after-beside', contextId: 'c', principal: bob });
    });
    expect(await store.tasks.find('after-beside')).toMatchObject({ createdBy: bob });
    // The client retries later with a fresh task id: a new task, not Alice's as a replay.
    const retry = await store.tasks.create({ id: 'after-fresh', contextId: 'c', principal: bob, requestId: 'r-after' });
    expect(retry).toMatchObject({ created: true, task: { id: 'after-fresh', createdBy: bob } });
    expect(retry.task.data).toEqual({});
    expect(await claims('r-after')).toEqual([{ task_id: 'after-fresh' }]);
    expect(await store.checkIntegrity()).toEqual([]);
  });

  test('inside atomically: a duplicate sent while the transaction is open creates its task once it ends', async () => {
    await aliceTask('queued-taken');
    let duplicate: ReturnType<Store['tasks']['create']> | undefined;
    await store.atomically(async (tx) => {
      await expect(
        tx.tasks.create({ id: 'queued-taken', contextId: 'c', principal: bob, requestId: 'r-queued' }),
      ).rejects.toEqual(alreadyExists);
      // Waits for this transaction (PostgreSQL: on the request's key; SQLite: for the connection).
      duplicate = store.tasks.create({ id: 'queued-fresh', contextId: 'c', principal: bob, requestId: 'r-queued' });
    });
    expect(await duplicate).toMatchObject({ created: true, task: { id: 'queued-fresh', createdBy: bob } });
  });

  test('outside atomically: refused, and the request id stays free for the retry', async () => {
    await aliceTask('out-taken');
    for (const lease of [undefined, { owner: 'replica-1', ttlMs: 60_000 }]) {
      await expect(
        store.tasks.create({ id: 'out-taken', contextId: 'c', principal: bob, requestId: 'r-out', lease }),
      ).rejects.toEqual(alreadyExists);
      expect(await claims('r-out')).toEqual([]);
    }
    const retry = await store.tasks.create({ id: 'out-fresh', contextId: 'c', principal: bob, requestId: 'r-out' });
    expect(retry).toMatchObject({ created: true, task: { id: 'out-fresh', createdBy: bob } });
    expect(await store.tasks.get('out-taken')).toMatchObject({ createdBy: alice, data: { secret: 'alice' } });
  });
});
