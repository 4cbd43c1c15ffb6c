import { createQueryId, type Compilable, type CompiledQuery, type Kysely, type QueryResult } from 'kysely';

// Stand-ins for the values while the statement is built (only then: no real value meets them).
const slot = (i: number) => `<agentmesh-slot-${i}>`;
const SLOT = /^<agentmesh-slot-(\d+)>$/;

/** The compiled statement and, per parameter, the index of the value bound there (or the built-in value). */
interface Compiled {
  sql: string;
  query: CompiledQuery['query'];
  bind: ({ value: number } | { fixed: unknown })[];
}

/**
 * A statement the store runs for every step or transition, built and compiled once per
 * dialect and `fixed` value: each run binds its values into the same SQL. Kysely builds an
 * immutable query tree and compiles it on every call, which was about a sixth of an agent's CPU
 * in the demo task (issue 22). `build` gets stand-ins for the values: it may only pass them to
 * Kysely as values (never compute with them in JavaScript, nor pass an array); whatever it needs
 * to compute goes in `fixed`, which must take few distinct values (a compiled statement is kept
 * per value).
 */
export function prepared<DB, F, V extends unknown[], R>(
  build: (db: Kysely<DB>, fixed: F, ...values: V) => Compilable<R>,
): (db: Kysely<DB>, fixed: F, ...values: V) => Promise<QueryResult<R>> {
  // Per dialect (a transaction shares its database's adapter), then per fixed value. Not per
  // schema or plugin: `db.withSchema()` / `withPlugin()` share the adapter, so a statement run
  // through one would get the SQL compiled for another (the store never uses them).
  const cache = new WeakMap<object, Map<F, Compiled>>();
  return async (db, fixed, ...values) => {
    const adapter = db.getExecutor().adapter;
    let byFixed = cache.get(adapter);
    if (!byFixed) cache.set(adapter, (byFixed = new Map()));
    let compiled = byFixed.get(fixed);
    if (!compiled)
      byFixed.set(
        fixed,
        (compiled = compile(build(db, fixed, ...(values.map((_, i) => slot(i)) as V)), values.length)),
      );
    const { sql, query, bind } = compiled;
    const parameters = bind.map((b) => ('value' in b ? values[b.value] : b.fixed));
    return await db.executeQuery<R>({ sql, query, parameters, queryId: createQueryId() });
  };
}

function compile(statement: Compilable<unknown>, count: number): Compiled {
  const { sql, query, parameters } = statement.compile();
  const bind = parameters.map((p) => {
    const m = typeof p === 'string' ? SLOT.exec(p) : null;
    return m ? { value: Number(m[1]) } : { fixed: p };
  });
  // A value Kysely did not bind as a parameter (it went into the SQL text) would be lost on every later run.
  for (let i = 0; i < count; i++)
    if (!bind.some((b) => 'value' in b && b.value === i))
      throw new Error(`prepared statement: value ${i} is not a parameter of ${sql}`);
  if (sql.includes('agentmesh-slot-')) throw new Error(`prepared statement: a value went into the SQL text: ${sql}`);
  return { sql, query, bind };
}
