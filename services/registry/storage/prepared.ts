import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';

// Parameters are told apart from the query's own constants by these values, unlikely in a registry row.
const MARK = '\u0000agentmesh-prepared-parameter-';

/**
 * A query built and compiled once, by the store's own dialect, then run with new values. The
 * registry's hot statements are small: building and compiling them with Kysely cost more than
 * the database's execution. `build` names each value with `$(i)`, the i-th argument of `run`.
 * One instance serves one store (the SQL is that dialect's).
 */
export class Prepared<DB, R> {
  private compiled: CompiledQuery<R> | undefined;
  /** For each parameter of the compiled SQL, the argument it takes (-1: the query's own constant). */
  private slots: number[] = [];

  constructor(private readonly build: (db: Kysely<DB>, $: (i: number) => never) => Compilable<R>) {}

  /** Runs the query on `db` (the store or an open transaction) with `args` in place of `$(0)`, `$(1)`… */
  run(db: Kysely<DB>, ...args: unknown[]): Promise<QueryResult<R>> {
    if (!this.compiled) {
      const compiled = this.build(db, (i) => `${MARK}${i}` as never).compile();
      this.slots = compiled.parameters.map((p) =>
        typeof p === 'string' && p.startsWith(MARK) ? Number(p.slice(MARK.length)) : -1,
      );
      this.compiled = compiled;
    }
    const { compiled, slots } = this;
    return db.executeQuery({
      ...compiled,
      parameters: compiled.parameters.map((p, k) => (slots[k]! < 0 ? p : args[slots[k]!])),
    });
  }
}
