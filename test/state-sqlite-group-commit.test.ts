// Group commit of SQLite transactions (mesh/state/sqlite-group-commit.ts) on real files: which
// transactions share a COMMIT, what one's failure or a failed COMMIT does to the others, and what
// a plain read sees meanwhile. Groups are staged, not raced: a first transaction holds the
// connection until the others are queued behind it (the driver's count), then ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { Code } from '../mesh/core/errors.js';
import type { Store } from '../mesh/index.js';
import {
  groupCommitKysely,
  groupCommitOf,
  MAX_GROUP,
  type GroupCommitDriver,
} from '../mesh/state/sqlite-group-commit.js';
import { sqliteFixture, type BackendFixture } from './helpers/state-backends.js';

interface Tables {
  parent: { id: number };
  child: { id: number; parent_id: number };
}

type Db = Kysely<Tables>;

function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Resolves once `n` callers wait for the connection (each step of the loop lets the others run). */
async function queued(driver: GroupCommitDriver, n: number): Promise<void> {
  while (driver.queued < n) await nextTurn();
}

/** Settles every promise; what each gave: its value or its error. */
async function outcomes(promises: Promise<unknown>[]): Promise<Array<{ ok: boolean; value: unknown }>> {
  return (await Promise.allSettled(promises)).map((r) =>
    r.status === 'fulfilled' ? { ok: true, value: r.value } : { ok: false, value: r.reason },
  );
}

describe('SQLite group commit (driver, real file)', () => {
  let dir: string;
  let file: string;
  let sqlite: Database.Database;
  let db: Db;
  let driver: GroupCommitDriver;

  /** What another connection sees: only what was committed. */
  const committed = (table: 'parent' | 'child'): number[] => {
    const other = new Database(file, { readonly: true });
    try {
      return (other.prepare(`select id from ${table} order by id`).all() as { id: number }[]).map((r) => r.id);
    } finally {
      other.close();
    }
  };

  /** A transaction that inserts parent `id`, says it runs, and ends when `until` resolves. */
  const holder = (id: number, until: Promise<void>) => {
    const running = gate();
    const done = db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id }).execute();
      running.open();
      await until;
      return id;
    });
    return { running: running.opened, done };
  };

  const insertParent = (id: number) =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id }).execute();
      return id;
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-group-commit-'));
    file = join(dir, 'state.db');
    sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.exec('create table parent (id integer primary key)');
    // Deferred: a missing parent is refused at COMMIT, not at the insert — a real COMMIT failure.
    sqlite.exec(
      'create table child (id integer primary key, parent_id integer not null references parent (id) deferrable initially deferred)',
    );
    db = groupCommitKysely<Tables>(sqlite, sqlite);
    driver = groupCommitOf(db as Kysely<unknown>)!;
  });

  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a lone transaction commits at once: one COMMIT each when none waits', async () => {
    for (const id of [1, 2, 3]) {
      await insertParent(id);
      // Answered: already visible to another connection (on disk), and no group was held open for it.
      expect(committed('parent')).toContain(id);
    }
    expect(driver.stats).toMatchObject({ transactions: 3, commits: 3 });
  });

  test('transactions queued behind a running one share its COMMIT; each is answered only after it', async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    let firstAnswered = false;
    void first.done.then(() => (firstAnswered = true));
    const seenByLast: { answered?: boolean; visible?: number[] } = {};
    const others = [2, 3, 4].map((id) => insertParent(id));
    const last = db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id: 5 }).execute();
      // Inside the group: the first transaction has ended but is neither committed nor answered.
      seenByLast.answered = firstAnswered;
      seenByLast.visible = committed('parent');
    });
    await queued(driver, 4);
    release.open();
    await Promise.all([first.done, ...others, last]);
    expect(seenByLast).toEqual({ answered: false, visible: [] });
    expect(committed('parent')).toEqual([1, 2, 3, 4, 5]);
    expect(driver.stats).toMatchObject({ transactions: 5, commits: 1 });
  });

  test('a transaction that throws is rolled back alone: the rest of its group commits', async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    const boom = new Error('refused by its own check');
    const failing = db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id: 3 }).execute();
      throw boom;
    });
    // A statement the database refuses (a duplicate key) fails its transaction alone too.
    const duplicate = db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id: 6 }).execute();
      await trx.insertInto('parent').values({ id: 1 }).execute();
    });
    const rest = [2, 4].map((id) => insertParent(id));
    await queued(driver, 4);
    release.open();
    const [firstOutcome, failed, refused, ...restOutcomes] = await outcomes([first.done, failing, duplicate, ...rest]);
    expect(firstOutcome).toEqual({ ok: true, value: 1 });
    expect(failed).toEqual({ ok: false, value: boom });
    expect(refused!.ok).toBe(false);
    expect(String(refused!.value)).toMatch(/UNIQUE constraint failed/);
    expect(restOutcomes).toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 4 },
    ]);
    expect(committed('parent')).toEqual([1, 2, 4]);
    expect(driver.stats).toMatchObject({ transactions: 5, commits: 1 });
  });

  test('a failed COMMIT fails every transaction of its group, and nothing of theirs is kept', async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    const orphan = db.transaction().execute(async (trx) => {
      await trx.insertInto('child').values({ id: 10, parent_id: 99 }).execute();
    });
    const others = [2, 3].map((id) => insertParent(id));
    await queued(driver, 3);
    release.open();
    const results = await outcomes([first.done, orphan, ...others]);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(String(r.value)).toMatch(/FOREIGN KEY constraint failed/);
    }
    expect(committed('parent')).toEqual([]);
    expect(committed('child')).toEqual([]);
    expect(driver.stats).toMatchObject({ transactions: 4, commits: 0 });
    // The connection goes on: the next transaction commits on its own.
    await insertParent(7);
    expect(committed('parent')).toEqual([7]);
  });

  test('a transaction that fails inside a group is answered only after the group committed (its error may come of their writes)', async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    const settled: string[] = [];
    const failing = db
      .transaction()
      .execute(async (trx) => {
        const seen = await trx.selectFrom('parent').select('id').execute();
        throw new Error(`saw ${seen.length} parent(s)`);
      })
      .catch((err: Error) => settled.push(err.message));
    const releaseLast = gate();
    const last = holder(3, releaseLast.opened);
    await queued(driver, 2);
    release.open();
    await last.running;
    // The failed one has ended, but what it saw (parent 1) is not committed yet.
    expect(settled).toEqual([]);
    releaseLast.open();
    await Promise.all([first.done, last.done, failing]);
    expect(settled).toEqual(['saw 1 parent(s)']);
    expect(committed('parent')).toEqual([1, 3]);
  });

  test('a transaction that fails inside a group whose COMMIT then fails gets the COMMIT error, not its own', async () => {
    const release = gate();
    const running = gate();
    const first = db.transaction().execute(async (trx) => {
      await trx.insertInto('child').values({ id: 10, parent_id: 99 }).execute();
      running.open();
      await release.opened;
    });
    await running.opened;
    // Its own error may come of the group's writes (say, a key the first claimed), which are not kept.
    const refused = db.transaction().execute(async (trx) => {
      await trx.selectFrom('child').select('id').execute();
      throw new Error('already claimed');
    });
    const last = insertParent(2);
    await queued(driver, 2);
    release.open();
    const results = await outcomes([first, refused, last]);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(String(r.value)).toMatch(/FOREIGN KEY constraint failed/);
    }
  });

  test('a transaction that ended the SQLite transaction itself opens no group: the next one begins its own', async () => {
    const release = gate();
    const running = gate();
    const first = db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id: 1 }).execute();
      running.open();
      await release.opened;
      await sql`commit`.execute(trx);
    });
    await running.opened;
    const second = insertParent(2);
    await queued(driver, 1);
    release.open();
    const [firstOutcome, secondOutcome] = await outcomes([first, second]);
    // Joined to no transaction, its savepoint would have committed on its own, and the group's
    // failed COMMIT then told its caller it failed.
    expect(secondOutcome).toEqual({ ok: true, value: 2 });
    expect(committed('parent')).toEqual([1, 2]);
    expect(firstOutcome!.ok).toBe(false);
  });

  test('the last transaction of a group keeps its own error when the COMMIT then fails', async () => {
    const release = gate();
    const running = gate();
    const first = db.transaction().execute(async (trx) => {
      await trx.insertInto('child').values({ id: 10, parent_id: 99 }).execute();
      running.open();
      await release.opened;
    });
    await running.opened;
    const boom = new Error('refused by its own check');
    const last = db.transaction().execute(async (trx) => {
      await trx.insertInto('parent').values({ id: 2 }).execute();
      throw boom;
    });
    await queued(driver, 1);
    release.open();
    const [firstOutcome, lastOutcome] = await outcomes([first, last]);
    expect(firstOutcome!.ok).toBe(false);
    expect(String(firstOutcome!.value)).toMatch(/FOREIGN KEY constraint failed/);
    expect(lastOutcome).toEqual({ ok: false, value: boom });
    expect(committed('parent')).toEqual([]);
    expect(committed('child')).toEqual([]);
  });

  test("a plain read waits for the open group's COMMIT: it never sees a write that then fails to commit", async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    // Queued in this order: a read, then a transaction whose COMMIT will fail (a missing parent).
    const read = db.selectFrom('parent').select('id').execute();
    const orphan = db.transaction().execute(async (trx) => {
      await trx.insertInto('child').values({ id: 10, parent_id: 99 }).execute();
    });
    await queued(driver, 2);
    release.open();
    const [firstOutcome, orphanOutcome] = await outcomes([first.done, orphan]);
    expect([firstOutcome!.ok, orphanOutcome!.ok]).toEqual([false, false]);
    // Run before the group's COMMIT, the read would have seen parent 1, which was never committed.
    expect(await read).toEqual([]);
    expect(driver.stats).toMatchObject({ transactions: 2, commits: 0 });
  });

  test('a plain read queued during a group sees the whole group once committed, never a part of it', async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    const read = db.selectFrom('parent').select('id').orderBy('id').execute();
    const second = insertParent(2);
    await queued(driver, 2);
    release.open();
    await Promise.all([first.done, second]);
    expect((await read).map((r) => r.id)).toEqual([1, 2]);
    expect(driver.stats).toMatchObject({ transactions: 2, commits: 1 });
  });

  test(`a group holds at most ${MAX_GROUP} transactions`, async () => {
    const release = gate();
    const first = holder(1, release.opened);
    await first.running;
    const n = 2 * MAX_GROUP + 8;
    const rest = Array.from({ length: n }, (_, i) => insertParent(i + 2));
    await queued(driver, n);
    release.open();
    await Promise.all([first.done, ...rest]);
    expect(committed('parent')).toHaveLength(n + 1);
    expect(driver.stats).toMatchObject({ transactions: n + 1, commits: 3 });
  });
});

describe('SQLite group commit (store)', () => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await sqliteFixture();
    store = await fx.open('demo/group-commit');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  test('concurrent writes share COMMITs; a refused one fails alone; its notices wait for the commit', async () => {
    const driver = groupCommitOf(store.context.db as Kysely<unknown>)!;
    await store.conversations.create('taken', { state: {}, principal: 'user:ada' });
    const before = { ...driver.stats };
    const heard: string[] = [];
    await store.notices.listen('group-test', (payload) => heard.push(payload ?? ''));
    const release = gate();
    const running = gate();
    const first = store.context.transaction(async (ctx) => {
      await ctx.notify('group-test', 'first');
      running.open();
      await release.opened;
      // Nothing of the group is heard before its COMMIT.
      return heard.length;
    });
    await running.opened;
    const writes = ['c1', 'taken', 'c2'].map((id) =>
      store.conversations.create(id, { state: {}, principal: 'user:ada' }),
    );
    await queued(driver, 3);
    release.open();
    const [heardInside, ...results] = await outcomes([first, ...writes]);
    expect(heardInside).toEqual({ ok: true, value: 0 });
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]!.value).toMatchObject({ code: Code.ALREADY_EXISTS });
    expect(heard).toEqual(['first']);
    expect((await store.conversations.get('c1')).version).toBe(1);
    expect((await store.conversations.get('c2')).version).toBe(1);
    expect(driver.stats.transactions - before.transactions).toBeGreaterThanOrEqual(4);
    expect(driver.stats.commits - before.commits).toBe(1);
  });
});
