import Database from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteDialect, sql } from 'kysely';
import { prepared } from './prepared.js';

interface Db {
  notes: { id: string; owner: string; body: string; n: number };
}

const sqlite = () => {
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  return db.schema
    .createTable('notes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text')
    .addColumn('body', 'text')
    .addColumn('n', 'integer')
    .execute()
    .then(() => db);
};

const insert = prepared((db: Kysely<Db>, n: number, id: string, owner: string, body: string) =>
  db.insertInto('notes').values({ id, owner, body, n }).returningAll(),
);
const byOwner = prepared((db: Kysely<Db>, _: undefined, owner: string, id: string) =>
  db.selectFrom('notes').select(['id', 'body', 'n']).where('owner', '=', owner).where('id', '>=', id).orderBy('id'),
);

describe('a prepared statement', () => {
  test('each run binds its own values, in their places, also inside a transaction', async () => {
    const db = await sqlite();
    await insert(db, 1, 'a', 'ada', 'first');
    await db.transaction().execute(async (trx) => {
      await insert(trx, 1, 'b', 'ada', 'second');
      await insert(trx, 1, 'c', 'ben', 'third');
    });
    expect((await byOwner(db, undefined, 'ada', 'a')).rows).toEqual([
      { id: 'a', body: 'first', n: 1 },
      { id: 'b', body: 'second', n: 1 },
    ]);
    expect((await byOwner(db, undefined, 'ada', 'b')).rows).toEqual([{ id: 'b', body: 'second', n: 1 }]);
    expect((await byOwner(db, undefined, 'ben', 'a')).rows).toEqual([{ id: 'c', body: 'third', n: 1 }]);
    await db.destroy();
  });

  test('a fixed value builds a statement of its own', async () => {
    const db = await sqlite();
    await insert(db, 1, 'a', 'ada', 'one');
    await insert(db, 2, 'b', 'ada', 'two');
    expect((await byOwner(db, undefined, 'ada', 'a')).rows.map((r) => r.n)).toEqual([1, 2]);
    await db.destroy();
  });

  test('compiled per dialect: PostgreSQL gets its own placeholders', () => {
    const pg = new Kysely<Db>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => ({
          init: async () => undefined,
          acquireConnection: async () => ({
            executeQuery: async (q) => ({ rows: [{ sql: q.sql, parameters: q.parameters }] }) as never,
            streamQuery: () => {
              throw new Error('no streams');
            },
          }),
          beginTransaction: async () => undefined,
          commitTransaction: async () => undefined,
          rollbackTransaction: async () => undefined,
          releaseConnection: async () => undefined,
          destroy: async () => undefined,
        }),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    });
    return byOwner(pg, undefined, 'ada', 'x').then(({ rows }) =>
      expect(rows).toEqual([
        {
          sql: 'select "id", "body", "n" from "notes" where "owner" = $1 and "id" >= $2 order by "id"',
          parameters: ['ada', 'x'],
        },
      ]),
    );
  });

  test('a value that would go into the SQL text instead of a parameter is refused at its first run', async () => {
    const db = await sqlite();
    const inlined = prepared((d: Kysely<Db>, _: undefined, owner: string) =>
      d.selectFrom('notes').selectAll().where('owner', '=', sql.lit(owner)),
    );
    await expect(inlined(db, undefined, 'ada')).rejects.toThrow(/value 0 is not a parameter/);
    await db.destroy();
  });
});
