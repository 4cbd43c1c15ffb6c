// The WAL sync of SQLite stores at synchronous=FULL (mesh/state/sqlite-wal-sync.ts and the driver
// in sqlite-group-commit.ts): SQLite commits without waiting for the disk and the driver answers a
// transaction only after an fdatasync of the WAL that began after its COMMIT. The driver tests use
// a sync the test completes (so that "not answered yet" is a fact, not a race); the store test the
// real one.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { Code, type MeshError } from '../mesh/core/errors.js';
import { loadStateConfig, openStore, sqlitePath, type Store } from '../mesh/index.js';
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

function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** What a failed sync rejects with, as Node reports it. */
const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

/** The store's refusal after a failed sync. */
const refused = {
  code: Code.UNAVAILABLE,
  message: expect.stringMatching(/write-ahead log could not be made durable \(EIO\); restart/),
};

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await nextTurn();
}

describe('SQLite WAL sync (driver, real file)', () => {
  let dir: string;
  let file: string;
  let sqlite: Database.Database;
  let db: Kysely<Tables>;
  let driver: GroupCommitDriver;
  let wal: ReturnType<typeof controlledSync>;
  let failures: MeshError[];

  const insertParent = (id: number) =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id }).execute();
      return id;
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-wal-sync-'));
    file = join(dir, 'state.db');
    sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.exec('create table parent (id integer primary key)');
    wal = controlledSync();
    failures = [];
    db = groupCommitKysely<Tables>(sqlite, sqlite, wal, (failure) => failures.push(failure));
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

  test('a failed sync fails the store closed: its callers, those waiting and every later one are refused', async () => {
    const first = insertParent(1);
    await until(() => wal.started === 1);
    const second = insertParent(2);
    await until(() => driver.stats.commits === 2);
    const heldRead = db.selectFrom('parent').select('id').execute();
    await until(() => driver.queued === 1);
    wal.finish(eio());
    for (const caller of [first, second, heldRead]) await expect(caller).rejects.toMatchObject(refused);
    // The caller told "outcome unknown" re-reads: refused, not served a commit that may not be on disk.
    await expect(db.selectFrom('parent').select('id').execute()).rejects.toMatchObject(refused);
    const stream = async () => {
      for await (const row of db.selectFrom('parent').select('id').stream()) void row;
    };
    await expect(stream()).rejects.toMatchObject(refused);
    // Nor is a write built on it acknowledged after a later sync that happens to succeed.
    await expect(insertParent(3)).rejects.toMatchObject(refused);
    expect(wal.started).toBe(1);
    expect(failures).toHaveLength(1);
  });

  test('after a failed sync the database file is left as it was: closing does not checkpoint the commit into it', async () => {
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const before = readFileSync(file);
    const first = insertParent(1);
    await until(() => wal.started === 1);
    wal.finish(eio());
    await expect(first).rejects.toMatchObject(refused);
    await db.destroy();
    // SQLite's close checkpoints the WAL into the file and deletes it when it can: not here.
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(`${file}-wal`)).toBe(true);
  });

  test('a failure listener that throws changes nothing: the store is failed closed and closed without a checkpoint', async () => {
    const other = join(dir, 'other.db');
    const conn = new Database(other);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL');
    conn.exec('create table parent (id integer primary key)');
    conn.pragma('wal_checkpoint(TRUNCATE)');
    const before = readFileSync(other);
    const sync = controlledSync();
    const throwing = groupCommitKysely<Tables>(conn, conn, sync, () => {
      throw new Error('the listener failed');
    });
    const write = throwing.transaction().execute((trx) => trx.insertInto('parent').values({ id: 1 }).execute());
    await until(() => sync.started === 1);
    sync.finish(eio());
    await expect(write).rejects.toMatchObject(refused);
    await expect(throwing.selectFrom('parent').select('id').execute()).rejects.toMatchObject(refused);
    expect(conn.open).toBe(false);
    await throwing.destroy();
    expect(readFileSync(other).equals(before)).toBe(true);
  });

  test('a write outside a transaction is answered after the sync, also one that returns rows (and its stream)', async () => {
    let answered = false;
    const insert = db
      .insertInto('parent')
      .values({ id: 1 })
      .returning('id')
      .execute()
      .then((rows) => ((answered = true), rows));
    await until(() => wal.started === 1 || answered);
    expect(answered).toBe(false);
    wal.finish();
    expect(await insert).toEqual([{ id: 1 }]);
    const streamed: unknown[] = [];
    const stream = (async () => {
      for await (const row of db.insertInto('parent').values({ id: 2 }).returning('id').stream()) streamed.push(row);
    })();
    await until(() => wal.started === 2 || streamed.length > 0);
    expect(streamed).toEqual([]);
    wal.finish();
    await stream;
    expect(streamed).toEqual([{ id: 2 }]);
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

  test('a write is answered only once the WAL sync that began after its COMMIT has finished', async () => {
    const wal = groupCommitOf(store.context.db as Kysely<unknown>)!.wal!;
    const realSync = wal.sync;
    const release = gate();
    let started = 0;
    let committedWhenSyncBegan: number | undefined;
    const visible = () => {
      const other = new Database(store.location, { readonly: true });
      try {
        return (
          other.prepare(`select count(*) as n from conversations where context_id = 'gated'`).get() as { n: number }
        ).n;
      } finally {
        other.close();
      }
    };
    wal.sync = async () => {
      started++;
      committedWhenSyncBegan ??= visible();
      await release.opened;
      return realSync.call(wal);
    };
    try {
      let answered = false;
      const write = store.conversations
        .create('gated', { state: {}, principal: 'user:ada' })
        .then(() => (answered = true));
      await until(() => started === 1 || answered);
      expect(answered).toBe(false);
      expect(committedWhenSyncBegan).toBe(1);
      // Committed, the sync held: still not answered however long it is held (a few turns of the loop here).
      for (let i = 0; i < 20; i++) await nextTurn();
      expect(answered).toBe(false);
      release.open();
      await write;
      expect(answered).toBe(true);
    } finally {
      release.open();
      wal.sync = realSync;
    }
  });

  test('a symlinked state.db: the WAL synced is the one SQLite writes, next to the link target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-wal-link-'));
    try {
      const config = loadStateConfig({ AGENTMESH_DATA_DIR: dir });
      const link = sqlitePath('demo/linked', config);
      mkdirSync(join(dir, 'demo', 'linked'), { recursive: true });
      mkdirSync(join(dir, 'elsewhere'));
      symlinkSync(join(dir, 'elsewhere', 'real.db'), link);
      const linked = await openStore({ service: 'demo/linked', config });
      try {
        await linked.conversations.create('c', { state: {}, principal: 'user:ada' });
        expect(existsSync(join(dir, 'elsewhere', 'real.db-wal'))).toBe(true);
      } finally {
        await linked.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
