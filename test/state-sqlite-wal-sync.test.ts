// The WAL sync of SQLite stores at synchronous=FULL (mesh/state/sqlite-wal-sync.ts and the driver
// in sqlite-group-commit.ts): SQLite commits without waiting for the disk and the driver answers a
// transaction only after an fdatasync of the WAL that began after its COMMIT. The driver tests use
// a sync the test completes (so that "not answered yet" is a fact, not a race); the store test the
// real one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import type { Store } from '../mesh/index.js';
import {
  groupCommitKysely,
  groupCommitOf,
  type GroupCommitDriver,
  type WalSync,
} from '../mesh/state/sqlite-group-commit.js';
import { sqliteFixture, type BackendFixture } from './helpers/state-backends.js';

interface Tables {
  parent: { id: number };
}

/** A WalSync whose syncs the test completes, in order. */
function controlledSync(): WalSync & { started: number; finish(err?: Error): void } {
  const pending: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  return {
    started: 0,
    sync() {
      this.started++;
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    finish(err?: Error) {
      const next = pending.shift()!;
      if (err) next.reject(err);
      else next.resolve();
    },
    close() {},
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await nextTurn();
}

describe('SQLite WAL sync (driver, real file)', () => {
  let dir: string;
  let db: Kysely<Tables>;
  let driver: GroupCommitDriver;
  let wal: ReturnType<typeof controlledSync>;

  const insertParent = (id: number) =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id }).execute();
      return id;
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-wal-sync-'));
    const sqlite = new Database(join(dir, 'state.db'));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.exec('create table parent (id integer primary key)');
    wal = controlledSync();
    db = groupCommitKysely<Tables>(sqlite, sqlite, wal);
    driver = groupCommitOf(db as Kysely<unknown>)!;
  });

  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a transaction is answered after the WAL sync that follows its COMMIT; a plain read waits for it too', async () => {
    const answered: number[] = [];
    const first = insertParent(1).then((id) => answered.push(id));
    await until(() => wal.started === 1);
    // Committed, not yet on disk: neither its caller nor a plain read may learn of it.
    const read = db.selectFrom('parent').select('id').execute();
    const second = insertParent(2).then((id) => answered.push(id));
    await until(() => driver.queued === 2);
    expect(answered).toEqual([]);
    expect(driver.stats).toMatchObject({ commits: 1, syncs: 0 });
    wal.finish();
    await first;
    expect(answered).toEqual([1]);
    // The read ran once the sync was done, then the transaction queued behind it.
    expect(await read).toEqual([{ id: 1 }]);
    await until(() => wal.started === 2);
    expect(answered).toEqual([1]);
    wal.finish();
    await second;
    expect(answered).toEqual([1, 2]);
    expect(driver.stats).toMatchObject({ transactions: 2, commits: 2, syncs: 2 });
  });

  test('commits made while a sync runs are answered by the next one: one sync for all of them', async () => {
    const answered: number[] = [];
    const first = insertParent(1).then((id) => answered.push(id));
    await until(() => wal.started === 1);
    // Transactions go on while the disk works (they are answered later).
    const more = [2, 3, 4].map((id) => insertParent(id).then((n) => answered.push(n)));
    await until(() => driver.stats.transactions === 4 && driver.queued === 0 && !driver.inTransaction);
    expect(wal.started).toBe(1);
    wal.finish();
    await first;
    expect(answered).toEqual([1]);
    await until(() => wal.started === 2);
    wal.finish();
    await Promise.all(more);
    expect(answered.sort()).toEqual([1, 2, 3, 4]);
    expect(driver.stats.syncs).toBe(2);
  });

  test('a transaction that fails after reading a commit not yet synced is answered after that sync', async () => {
    const first = insertParent(1);
    await until(() => wal.started === 1);
    let answer: string | undefined;
    const failing = db
      .transaction()
      .execute(async (trx) => {
        const seen = await trx.selectFrom('parent').select('id').execute();
        throw new Error(`saw ${seen.length} parent(s)`);
      })
      .catch((err: Error) => (answer = err.message));
    await until(() => driver.stats.transactions === 2 && !driver.inTransaction);
    expect(answer).toBeUndefined();
    wal.finish();
    await Promise.all([first, failing]);
    expect(answer).toBe('saw 1 parent(s)');
  });

  test('a failed sync fails the callers it was to answer (their outcome is unknown); the next sync answers the rest', async () => {
    const first = insertParent(1);
    await until(() => wal.started === 1);
    const second = insertParent(2);
    await until(() => driver.stats.commits === 2);
    wal.finish(new Error('EIO: i/o error, fdatasync'));
    await expect(first).rejects.toThrow(/EIO/);
    await until(() => wal.started === 2);
    wal.finish();
    await expect(second).resolves.toBe(2);
  });
});

describe('SQLite WAL sync (store, synchronous=FULL)', () => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await sqliteFixture();
    store = await fx.open('demo/wal-sync');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  test('SQLite commits at NORMAL and every write is answered after a sync of the WAL', async () => {
    const driver = groupCommitOf(store.context.db as Kysely<unknown>)!;
    const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(store.context.db);
    expect(rows[0]!.synchronous).toBe(1);
    const before = { ...driver.stats };
    await Promise.all(
      ['a', 'b', 'c'].map((id) => store.conversations.create(id, { state: {}, principal: 'user:ada' })),
    );
    expect(driver.stats.commits - before.commits).toBeGreaterThanOrEqual(1);
    expect(driver.stats.syncs - before.syncs).toBeGreaterThanOrEqual(1);
    expect(driver.stats.syncs - before.syncs).toBeLessThanOrEqual(driver.stats.commits - before.commits);
  });
});
