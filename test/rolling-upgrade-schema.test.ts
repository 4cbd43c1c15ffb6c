import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code } from '../mesh/core/errors.js';
import { createLogger, MIGRATION_TABLE, openStore, type Store } from '../mesh/index.js';
import { migrate } from '../mesh/state/migrate.js';
import type { SchemaMigration } from '../mesh/state/schema-compat.js';
import { startProcess } from './helpers/processes.js';
import { BACKENDS, postgresFixture, type BackendFixture } from './helpers/state-backends.js';
import {
  closeBackend,
  openBackend,
  productionVersion,
  releaseMigrations,
  testMigrationNames,
  type Release,
} from './helpers/test-releases.js';

const who = 'test';
// Column types are the same for every release; the versions follow the production list.
const TYPES = { json: 'text', time: 'text' } as const;
const N = productionVersion(TYPES);
const names = testMigrationNames(TYPES);
const namesOf = (release: Release) => Object.keys(releaseMigrations(release, TYPES));

/** A logger whose JSON lines the test can read. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ service: 'test', destination }), lines };
}

describe.each(BACKENDS)('rolling upgrade of the state schema on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  beforeAll(async () => {
    fx = await makeFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  /** Starts a replica of a test release: migrates as that release would; resolves with the version it runs at. */
  async function startRelease(
    release: Release,
    service: string,
    replace: (list: Record<string, SchemaMigration>) => Record<string, SchemaMigration> = (l) => l,
  ): Promise<number> {
    const backend = openBackend(service, fx.config());
    try {
      return await migrate(backend.db as unknown as Kysely<unknown>, {
        types: backend.types,
        schema: backend.schema,
        migrations: replace(releaseMigrations(release, backend.types)),
      });
    } finally {
      await closeBackend(backend);
    }
  }
  /** This code, as services open it: v1. */
  const openV1 = (service: string, log?: ReturnType<typeof capturedLog>['log']) =>
    openStore({ service, config: fx.config(), log });
  const applied = async (service: string) =>
    (await fx.sql(service, `SELECT name FROM ${MIGRATION_TABLE} ORDER BY name`)).map((r) => r.name);
  const runsOfExpand = async (service: string) =>
    Number((await fx.sql(service, `SELECT count(*) AS n FROM test_migration_runs`))[0]!.n);

  test('v1 keeps running, and restarts, on the schema a v2 replica expanded', async () => {
    const service = 'upgrade/expand';
    const v1 = await openV1(service);
    await v1.tasks.create({ id: 't1', contextId: 'c', principal: who, data: { from: 'v1' } });

    expect(await startRelease('v2', service)).toBe(N + 1);
    await fx.sql(service, `UPDATE tasks SET priority = 7 WHERE id = 't1'`);

    // The replica that was running goes on writing.
    await v1.tasks.update('t1', { expectedVersion: 1, principal: who, state: TaskState.TASK_STATE_WORKING });
    await v1.close();

    // It restarts (crash, node drain) on the newer schema, with a warning, and works.
    const { log, lines } = capturedLog();
    const restarted: Store = await openV1(service, log);
    try {
      // It reports the schema's version; the warning says which code runs on it.
      expect(restarted.schemaVersion).toBe(N + 1);
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          msg: `state schema version ${N + 1} is newer; compatible with this code (version ${N} ≥ 1)`,
        }),
      );
      expect(await restarted.tasks.get('t1')).toMatchObject({ version: 2, state: TaskState.TASK_STATE_WORKING });
      await restarted.tasks.create({ id: 't2', contextId: 'c', principal: who });
      await restarted.tasks.update('t2', { expectedVersion: 1, principal: who, state: TaskState.TASK_STATE_WORKING });
      expect(await restarted.tasks.get('t2')).toMatchObject({ version: 2 });
      expect(await restarted.checkIntegrity()).toEqual([]);
    } finally {
      await restarted.close();
    }

    // v1's writes kept v2's column, and v1 changed nothing in the schema.
    expect(await fx.sql(service, `SELECT id, priority FROM tasks ORDER BY id`)).toEqual([
      { id: 't1', priority: 7 },
      { id: 't2', priority: null },
    ]);
    expect(await applied(service)).toEqual(namesOf('v2'));
    expect(await startRelease('v2', service)).toBe(N + 1);
    expect(await runsOfExpand(service)).toBe(1);
  });

  test('after a contract, releases below its floor are refused naming both versions and the floor, and nothing changes', async () => {
    const service = 'upgrade/contract';
    const v1 = await openV1(service);
    await v1.tasks.create({ id: 't1', contextId: 'c', principal: who });
    await v1.close();
    expect(await startRelease('v3', service)).toBe(N + 2);
    const before = await applied(service);

    const v1Refused = openV1(service);
    await expect(v1Refused).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    await expect(v1Refused).rejects.toThrow(
      `state schema version ${N + 2} is newer than this code knows (version ${N}; unknown migrations: ` +
        `${names.expand}, ${names.contract}): a contract migration made it readable only by code version ≥ ${N + 2}`,
    );
    const v2Refused = startRelease('v2', service);
    await expect(v2Refused).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    await expect(v2Refused).rejects.toThrow(
      `state schema version ${N + 2} is newer than this code knows (version ${N + 1}; unknown migrations: ` +
        `${names.contract}): a contract migration made it readable only by code version ≥ ${N + 2}`,
    );
    expect(await applied(service)).toEqual(before);
    expect(await fx.sql(service, `SELECT id, changed_by FROM tasks`)).toEqual([{ id: 't1', changed_by: who }]);

    // An expand after the contract keeps its floor: v3 runs on v4's schema, v1 stays out.
    expect(await startRelease('v4', service)).toBe(N + 3);
    expect(await startRelease('v3', service)).toBe(N + 3);
    await expect(openV1(service)).rejects.toThrow(`readable only by code version ≥ ${N + 2}`);
  });

  test('a contract declared readable by v2 locks out v1 only', async () => {
    const service = 'upgrade/lenient';
    expect(await startRelease('v2', service)).toBe(N + 1);
    expect(await startRelease('v2c', service)).toBe(N + 2);
    expect(await startRelease('v2', service)).toBe(N + 2);
    await expect(openV1(service)).rejects.toThrow(`readable only by code version ≥ ${N + 1}`);
  });

  test('a schema moved on by migrations that record no floor (older tooling, hand edits) is refused', async () => {
    const service = 'upgrade/unrecorded';
    await (await openV1(service)).close();
    await fx.sql(
      service,
      `INSERT INTO ${MIGRATION_TABLE} (name, timestamp) VALUES ('9999_by_hand', '2030-01-01T00:00:00.000Z')`,
    );
    await expect(openV1(service)).rejects.toThrow(
      `state schema version 9999 is newer than this code knows (version ${N}; unknown migrations: 9999_by_hand): ` +
        `it records no compatibility floor for 9999_by_hand`,
    );
  });

  test('two v2 replicas starting at once both start, and each migration runs once', async () => {
    const service = 'upgrade/concurrent';
    const replicas = [0, 1].map(() =>
      startProcess('test/fixtures/migrate-release.ts', { ...fx.env, TEST_RELEASE: 'v2', TEST_SERVICE: service }),
    );
    const codes = await Promise.all(replicas.map((r) => r.exited));
    expect(codes.map((c, i) => [c, replicas[i]!.stdout().trim()])).toEqual([
      [0, JSON.stringify({ version: N + 1 })],
      [0, JSON.stringify({ version: N + 1 })],
    ]);
    expect(await runsOfExpand(service)).toBe(1);
    const all = await applied(service);
    expect(all.sort()).toEqual(namesOf('v2'));
  }, 60_000);
});

describe('rolling upgrade on postgres: a v1 replica starting while v2 migrates', () => {
  let fx: BackendFixture;
  beforeAll(async () => {
    fx = await postgresFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  test('waits for the migration lock, then runs on the expanded schema', async () => {
    const service = 'upgrade/during';
    await (await openStore({ service, config: fx.config() })).close();

    // v2's expand migration holds the lock (inside its transaction) until the test opens the gate.
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let started: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (started = resolve));
    const v2Backend = openBackend(service, fx.config());
    const v2List = releaseMigrations('v2', v2Backend.types);
    const expand = v2List[names.expand]!;
    const v2 = migrate(v2Backend.db as unknown as Kysely<unknown>, {
      types: v2Backend.types,
      schema: v2Backend.schema,
      migrations: {
        ...v2List,
        [names.expand]: {
          kind: 'expand',
          async up(db) {
            started();
            await gate;
            await expand.up(db);
          },
        },
      },
    });
    await inside;

    const { log, lines } = capturedLog();
    const v1 = openStore({ service, config: fx.config(), log });
    // v1 is queued behind v2's migration lock (an advisory lock in this database).
    const waiting = async () =>
      Number(
        (
          await fx.sql(
            service,
            `SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`,
          )
        )[0]!.n,
      );
    while ((await waiting()) === 0) await new Promise((r) => setTimeout(r, 20));
    openGate();

    expect(await v2).toBe(N + 1);
    await closeBackend(v2Backend);
    const store = await v1;
    try {
      expect(store.schemaVersion).toBe(N + 1);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 'warn', msg: expect.stringContaining(`schema version ${N + 1} is newer`) }),
      );
      await store.tasks.create({ id: 't1', contextId: 'c', principal: who });
    } finally {
      await store.close();
    }
    expect(await fx.sql(service, `SELECT count(*)::int AS n FROM test_migration_runs`)).toEqual([{ n: 1 }]);
  });
});
