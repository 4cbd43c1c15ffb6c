import pg from 'pg';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code } from '../mesh/core/errors.js';
import type { Store, TaskRecord } from '../mesh/index.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

// A task row another transaction holds locked must not hold up the transitions of other
// tasks group-committed with it: they are stored while the lock is held, and the locked
// one is stored once it is released, in order with the transitions queued behind it.
const who = 'test';
const S = TaskState;
const service = 'demo/skip-locked';

describe('PostgreSQL transitions beside a locked task row', () => {
  let fx: BackendFixture;
  let store: Store;
  let holder: pg.Client;
  beforeAll(async () => {
    fx = await postgresFixture();
    // Far beyond the test's own timeout: without skipping, the batch would wait for the lock
    // until the test fails, not until a statement timeout retries its transitions alone.
    store = await fx.open(service, { AGENTMESH_DB_STATEMENT_TIMEOUT_MS: '120000' });
    holder = new pg.Client({ connectionString: fx.env.DATABASE_URL, options: `-c search_path="${service}"` });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
    await store?.close();
    await fx?.cleanup();
  });

  async function working(id: string): Promise<void> {
    await store.tasks.create({ id, contextId: 'c', principal: who });
    await store.tasks.update(id, { expectedVersion: 1, principal: who, state: S.TASK_STATE_WORKING });
  }

  test('the other tasks of its batch are stored while the lock is held; it is stored after', async () => {
    const others = ['a', 'b', 'c'];
    for (const id of ['first', ...others, 'locked', 'later']) await working(id);
    await holder.query('begin');
    await holder.query(`select id from tasks where id = 'locked' for update`);

    const change = (id: string, expectedVersion: number) =>
      store.tasks.update(id, { expectedVersion, principal: who, events: [{ note: `${id}@${expectedVersion}` }] });
    let lockedSettled = false;
    // The first goes alone at once; the rest arrive while it runs and go together in the next statement.
    const first = change('first', 2);
    const locked = [change('locked', 2), change('locked', 3)];
    void Promise.allSettled(locked).then(() => (lockedSettled = true));
    const done = await Promise.all([first, ...others.map((id) => change(id, 2))]);
    expect(done.map((t) => [t.id, t.version])).toEqual([['first', 3], ...others.map((id) => [id, 3])]);
    // A transition issued now is not held up by the one waiting for the lock either.
    expect(await change('later', 2)).toMatchObject({ id: 'later', version: 3 });
    expect(lockedSettled).toBe(false);

    await holder.query('commit');
    const [v3, v4] = (await Promise.all(locked)) as [TaskRecord, TaskRecord];
    expect([v3.version, v4.version]).toEqual([3, 4]);
    expect((await store.tasks.history('locked')).map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect((await store.events.list('locked')).map((e) => [e.sequence, e.event])).toEqual([
      [1, { note: 'locked@2' }],
      [2, { note: 'locked@3' }],
    ]);
    for (const id of others) expect(await store.events.list(id)).toHaveLength(1);
    expect(await store.checkIntegrity()).toEqual([]);
  });

  test('compare-and-set behind the lock: a change the holder made stale is refused once the lock is released', async () => {
    for (const id of ['e', 'd', 'contested']) await working(id);
    // Another writer's transaction holds the row: it moves the task to version 3, then waits.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holderTx = store.atomically(async (tx) => {
      await tx.tasks.update('contested', { expectedVersion: 2, principal: 'holder' });
      holding();
      await gate;
    });
    await held;

    const alone = store.tasks.update('e', { expectedVersion: 2, principal: who });
    const settled = (p: Promise<unknown>) =>
      p.then(
        () => 'stored',
        (err: { code?: unknown }) => err.code,
      );
    const stale = settled(store.tasks.update('contested', { expectedVersion: 1, principal: who }));
    const lost = settled(store.tasks.update('contested', { expectedVersion: 2, principal: who }));
    expect(await store.tasks.update('d', { expectedVersion: 2, principal: who })).toMatchObject({ version: 3 });
    expect(await alone).toMatchObject({ version: 3 });

    release();
    await holderTx;
    expect(await stale).toBe(Code.ABORTED);
    expect(await lost).toBe(Code.ABORTED);
    expect(await store.tasks.get('contested')).toMatchObject({ version: 3, updatedBy: 'holder' });
  });

  test('rows held elsewhere take at most half the pool: the store answers other calls meanwhile', async () => {
    // A replica of four connections; four of its task rows held by another transaction.
    const small = await fx.open(service, { AGENTMESH_DB_POOL_MAX: '4', AGENTMESH_DB_STATEMENT_TIMEOUT_MS: '120000' });
    const held = ['h1', 'h2', 'h3', 'h4'];
    for (const id of [...held, 'free']) await working(id);
    await holder.query('begin');
    await holder.query(`select id from tasks where id = any($1) for update`, [held]);
    const changes = held.map((id) => small.tasks.update(id, { expectedVersion: 2, principal: who }));
    // Each was skipped once and now waits for its lock, alone: at least two statements wait.
    // Asked from the holder's open transaction: its view of the server's activity is a snapshot, cleared each time.
    const waiting = async () => {
      await holder.query('select pg_stat_clear_snapshot()');
      const { rows } = await holder.query(
        `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%tasks%'`,
      );
      return (rows[0] as { n: number }).n;
    };
    while ((await waiting()) < 2) await new Promise((r) => setImmediate(r));
    // Without the bound, all four connections would wait on the locks and these would too.
    expect(await small.tasks.get('free')).toMatchObject({ version: 2 });
    expect(await small.tasks.update('free', { expectedVersion: 2, principal: who })).toMatchObject({ version: 3 });
    expect(await waiting()).toBeLessThanOrEqual(2);
    await holder.query('commit');
    expect((await Promise.all(changes)).map((t) => t.version)).toEqual([3, 3, 3, 3]);
    await small.close();
  });
});
