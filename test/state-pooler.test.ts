import { sql } from 'kysely';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { openStore, type Store } from '../mesh/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

// Behind a pooler in transaction mode, each transaction may run on another server
// connection, so a statement prepared under a name on one is missing on the next.
// One connection per store here, so the statements the store's connection holds are visible.
const who = 'test';
const S = TaskState;

describe('PostgreSQL task transitions behind a pooler', () => {
  let fx: BackendFixture;
  beforeAll(async () => {
    fx = await postgresFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  const preparedOnConnection = async (store: Store) =>
    (
      await store.context.read((db) =>
        sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(db),
      )
    ).rows.map((r) => r.name);

  async function transitions(store: Store, ids: string[]): Promise<void> {
    for (const id of ids) await store.tasks.create({ id, contextId: 'c', principal: who });
    const done = await Promise.all(
      ids.map((id) =>
        store.tasks.update(id, { expectedVersion: 1, principal: who, state: S.TASK_STATE_WORKING, events: [{ id }] }),
      ),
    );
    expect(done.map((t) => t.version)).toEqual(ids.map(() => 2));
    for (const id of ids) expect(await store.events.list(id)).toHaveLength(1);
  }

  test('by default the transition is a statement prepared under its name on the connection', async () => {
    const store = await fx.open('demo/named', { AGENTMESH_DB_POOL_MAX: '1' });
    try {
      await transitions(store, ['n0', 'n1', 'n2']);
      expect(await preparedOnConnection(store)).toContain('agentmesh_task_transition_v2');
    } finally {
      await store.close();
    }
  });

  test('AGENTMESH_DB_PREPARED_STATEMENTS=unnamed leaves no named statement on the connection', async () => {
    const store = await fx.open('demo/unnamed', {
      AGENTMESH_DB_POOL_MAX: '1',
      AGENTMESH_DB_PREPARED_STATEMENTS: 'unnamed',
    });
    try {
      await transitions(store, ['u0', 'u1', 'u2']);
      expect(await preparedOnConnection(store)).toEqual([]);
      expect(await store.checkIntegrity()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test('a named statement the connection lost (as a pooler loses it) switches the store to unnamed, with a warning', async () => {
    const capture = captureLogger();
    const store = await openStore({
      service: 'demo/lost',
      config: fx.config({ AGENTMESH_DB_POOL_MAX: '1' }),
      log: capture.log,
    });
    try {
      await transitions(store, ['l0']);
      // What a pooler in transaction mode does: the next transaction's server connection lacks the statement.
      await store.context.read((db) => sql`deallocate all`.execute(db));
      await transitions(store, ['l1', 'l2', 'l3']);
      await transitions(store, ['l4']);
      expect(await preparedOnConnection(store)).toEqual([]);
      const warnings = capture.lines.filter((l) => String(l.msg).includes('unnamed statements'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', code: '26000' });
    } finally {
      await store.close();
    }
  });
});
