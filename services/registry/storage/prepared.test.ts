import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { Prepared } from './prepared.js';

interface DB {
  t: { id: string; a: string; b: string; n: number };
}

describe('Prepared', () => {
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  beforeAll(() =>
    db.schema
      .createTable('t')
      .addColumn('id', 'text')
      .addColumn('a', 'text')
      .addColumn('b', 'text')
      .addColumn('n', 'integer')
      .execute(),
  );
  afterAll(() => db.destroy());

  test('runs with new values each time; the query’s own constants and repeated values stay in place', async () => {
    const insert = new Prepared<DB, unknown>((d, $) =>
      d.insertInto('t').values({ id: $(0), a: 'fixed', b: $(0), n: $(1) }),
    );
    const byId = new Prepared<DB, DB['t']>((d, $) => d.selectFrom('t').selectAll().where('id', '=', $(0)));
    await insert.run(db, 'x', 1);
    await insert.run(db, 'y', 2);
    expect((await byId.run(db, 'y')).rows).toEqual([{ id: 'y', a: 'fixed', b: 'y', n: 2 }]);
    expect((await byId.run(db, 'x')).rows).toEqual([{ id: 'x', a: 'fixed', b: 'x', n: 1 }]);
    await db.transaction().execute((trx) => insert.run(trx, 'z', 3));
    expect((await byId.run(db, 'z')).rows).toHaveLength(1);
  });
});
