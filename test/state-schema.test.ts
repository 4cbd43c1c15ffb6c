import { existsSync } from 'node:fs';
import { Code } from '../mesh/core/errors.js';
import { MIGRATION_TABLE, sqlitePath } from '../mesh/index.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

const who = 'test';

describe.each(BACKENDS)('state schema on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  beforeAll(async () => {
    fx = await makeFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  const migrationNames = async (service: string) =>
    (await fx.sql(service, `SELECT name FROM ${MIGRATION_TABLE} ORDER BY name`)).map((r) => r.name);

  test('migrates an empty database on open, and re-running changes nothing', async () => {
    const first = await fx.open('schema/fresh');
    expect(first.schemaVersion).toBe(5);
    await first.tasks.create({ id: 't1', contextId: 'c1', principal: who });
    await first.close();
    expect(await migrationNames('schema/fresh')).toEqual([
      '0001_initial',
      '0002_registry',
      '0003_task_leases',
      '0004_registry_replicas',
      '0005_task_listing',
    ]);

    for (let i = 0; i < 2; i++) {
      const again = await fx.open('schema/fresh');
      expect(again.schemaVersion).toBe(5);
      expect(await again.tasks.get('t1')).toMatchObject({ id: 't1', version: 1 });
      await again.close();
    }
    expect(await migrationNames('schema/fresh')).toEqual([
      '0001_initial',
      '0002_registry',
      '0003_task_leases',
      '0004_registry_replicas',
      '0005_task_listing',
    ]);
  });

  test('a migration interrupted half-way completes when run again', async () => {
    // What a crash between two DDL statements leaves behind: one table, no migration row.
    const store = await fx.open('schema/interrupted');
    await store.close();
    await fx.sql('schema/interrupted', `DROP TABLE tool_results`);
    await fx.sql('schema/interrupted', `DELETE FROM ${MIGRATION_TABLE}`);
    const resumed = await fx.open('schema/interrupted');
    const { result } = await resumed.toolResults.run('k', { principal: who }, async () => ({ ok: true }));
    expect(result).toEqual({ ok: true });
    await resumed.close();
    expect(await migrationNames('schema/interrupted')).toEqual([
      '0001_initial',
      '0002_registry',
      '0003_task_leases',
      '0004_registry_replicas',
      '0005_task_listing',
    ]);
  });

  test('refuses a schema newer than the code, naming both versions, and touches nothing', async () => {
    const store = await fx.open('schema/newer');
    await store.conversations.create('ctx', { state: { kept: true }, principal: who });
    await store.close();
    await fx.sql(
      'schema/newer',
      `INSERT INTO ${MIGRATION_TABLE} (name, timestamp) VALUES ('0009_from_the_future', '2030-01-01T00:00:00.000Z')`,
    );

    const refusal = fx.open('schema/newer');
    await expect(refusal).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    await expect(refusal).rejects.toThrow(
      /schema version 9 is newer than this code knows \(version 5; unknown migrations: 0009_from_the_future\)/,
    );

    await fx.sql('schema/newer', `DELETE FROM ${MIGRATION_TABLE} WHERE name = '0009_from_the_future'`);
    const reopened = await fx.open('schema/newer');
    expect((await reopened.conversations.get('ctx')).state).toEqual({ kept: true });
    await reopened.close();
  });

  test('each service has its own database: nothing is shared', async () => {
    const a = await fx.open('schema/service-a');
    const b = await fx.open('schema/service-b');
    try {
      await a.tasks.create({ id: 'same-id', contextId: 'c', principal: who, data: { owner: 'a' } });
      expect(await b.tasks.find('same-id')).toBeUndefined();
      await b.tasks.create({ id: 'same-id', contextId: 'c', principal: who, data: { owner: 'b' } });
      expect((await a.tasks.get('same-id')).data).toEqual({ owner: 'a' });
      expect(a.location).not.toEqual(b.location);
      if (fx.kind === 'sqlite') {
        expect(existsSync(sqlitePath('schema/service-a', fx.config()))).toBe(true);
        expect(a.location).toBe(sqlitePath('schema/service-a', fx.config()));
      } else {
        expect(a.location).toMatch(/schema "schema\/service-a"$/);
        expect(a.location).not.toMatch(/postgres@/);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
