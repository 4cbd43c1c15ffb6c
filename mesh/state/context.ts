import { CompiledQuery, sql, type Kysely, type RawBuilder } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { toMeshError } from './db-errors.js';
import { Notices } from './notifications.js';
import type { Database } from './tables.js';
import type { PreparedQuery } from './postgres-transition.js';
import type { TransitionBatcher } from './transition-batcher.js';

/** A JSON value as stored and returned by the store. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** How a backend returns JSON and timestamp columns; the only per-dialect code outside the backends. */
export interface Codec {
  json(raw: unknown): JsonValue;
  time(raw: unknown): Date;
}

/** What a store's contexts share beyond the connection: the database clock and change notices. */
export interface ContextShared {
  /** Which database: some statements (row locks that skip) exist on PostgreSQL only. */
  kind: 'sqlite' | 'postgres';
  /** The database's clock in epoch milliseconds, as SQL (see Backend.nowMs). */
  nowMs: RawBuilder<number>;
  /** The database's clock `ms` from now, for a time column (see Backend.timeIn). */
  timeIn(ms: number): RawBuilder<string>;
  notices: Notices;
  /** PostgreSQL: task transitions outside a transaction, group-committed (see TransitionBatcher). */
  transitions?: TransitionBatcher;
  /** PostgreSQL: runs a statement prepared under its name on a pooled connection (see Backend.prepared). */
  prepared?: PreparedQuery;
}

/**
 * SQLite's clock: epoch milliseconds, and times as ISO-8601 text with
 * milliseconds — the format Date.toISOString writes, so stored texts compare as times.
 */
export const SQLITE_CLOCK: Pick<ContextShared, 'kind' | 'nowMs' | 'timeIn'> = {
  kind: 'sqlite',
  nowMs: sql<number>`CAST(unixepoch('subsec') * 1000 AS INTEGER)`,
  timeIn: (ms) => sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`${ms / 1000} seconds`})`,
};

type Notice = [channel: string, payload: string];
// The notices each open transaction will deliver in this process once it commits.
const pendingNotices = new WeakMap<object, Notice[]>();

/** What every record module shares: the query builder, the codec, the clock and change notices. */
export class StoreContext<DB = Database> {
  constructor(
    readonly db: Kysely<DB>,
    readonly codec: Codec,
    private readonly clock: () => Date = () => new Date(),
    /** True when `db` is an open transaction: writes join it instead of starting their own. */
    private readonly inTransaction = false,
    private readonly shared: ContextShared = { ...SQLITE_CLOCK, notices: new Notices('memory') },
  ) {}

  /** Runs fn with a context whose reads and writes all belong to one transaction. */
  async transaction<T>(fn: (ctx: StoreContext<DB>) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return this.committed((trx) => fn(new StoreContext(trx, this.codec, this.clock, true, this.shared)));
  }

  // One transaction; its notices are delivered in this process after it commits (never if it rolls back).
  private async committed<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    const notices: Notice[] = [];
    let result: T;
    try {
      result = await this.db.transaction().execute((trx) => {
        pendingNotices.set(trx, notices);
        return fn(trx);
      });
    } catch (err) {
      throw toMeshError(err);
    }
    for (const [channel, payload] of notices) this.shared.notices.deliver(channel, payload);
    return result;
  }

  /** Which database the context writes to. */
  get kind(): 'sqlite' | 'postgres' {
    return this.shared.kind;
  }

  /** The store's change notices (listen to a channel; see Notices). */
  get notices(): Notices {
    return this.shared.notices;
  }

  /**
   * The database's clock in epoch milliseconds, as an SQL expression (a
   * bigint: compare and compute with it in SQL). Leases use it so that every
   * replica judges expiry by one clock.
   */
  nowMs(): RawBuilder<number> {
    return this.shared.nowMs;
  }

  /**
   * The database's clock `ms` milliseconds from now (negative: ago), as a
   * value of a time column: leases kept in such columns are judged by one
   * clock, whatever each replica's own says.
   */
  timeIn(ms: number): RawBuilder<string> {
    return this.shared.timeIn(ms);
  }

  /**
   * Tells the channel's listeners — in every process sharing the store — that
   * `payload` changed, once the write commits. Call it inside a write: pass
   * its `trx` (a context from `transaction` uses its own). A notice says what
   * to re-read, never the data itself.
   */
  async notify(channel: string, payload: string, trx?: Kysely<DB>): Promise<void> {
    const db = trx ?? this.db;
    const { notices } = this.shared;
    if (notices.transport)
      await sql`select pg_notify(${notices.wire(channel)}, ${notices.encode(payload)})`.execute(db);
    this.afterCommit(channel, payload, db);
  }

  /**
   * This process's half of a notice whose NOTIFY a statement already sent: its listeners
   * hear it once `trx` commits (at once when no transaction of this context is open).
   */
  afterCommit(channel: string, payload: string, trx?: Kysely<DB>): void {
    const pending = pendingNotices.get(trx ?? this.db);
    if (pending) {
      if (!pending.some(([c, p]) => c === channel && p === payload)) pending.push([channel, payload]);
    } else this.shared.notices.deliver(channel, payload);
  }

  /** True inside `transaction` (or `atomically`): an error in a statement aborts the whole transaction. */
  get inOpenTransaction(): boolean {
    return this.inTransaction;
  }

  /**
   * Runs one statement: outside a transaction on PostgreSQL, prepared under `name` on a pooled
   * connection (parsed and planned once per connection); else through `db`, the open transaction.
   */
  async statement<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    const { prepared } = this.shared;
    if (prepared !== undefined && !this.inTransaction) return (await prepared({ name, text, values })).rows as R[];
    return (await this.db.executeQuery<R>(CompiledQuery.raw(text, values))).rows;
  }

  /** PostgreSQL outside a transaction: the group commit of task transitions; undefined otherwise. */
  get transitions(): TransitionBatcher | undefined {
    return this.inTransaction ? undefined : this.shared.transitions;
  }

  /**
   * The same context over a service's own tables (created by its migrations in this
   * store): the registry keeps its book of record this way.
   */
  withTables<T>(): StoreContext<T> {
    return this as unknown as StoreContext<T>;
  }

  /** The time stamped on a change, as the ISO text both backends accept. */
  now(): string {
    return this.clock().toISOString();
  }

  /** Runs reads, turning driver errors into MeshErrors. */
  async read<T>(fn: (db: Kysely<DB>) => Promise<T>): Promise<T> {
    try {
      return await fn(this.db);
    } catch (err) {
      throw toMeshError(err);
    }
  }

  /** Runs fn in one transaction: all of its writes commit together or none does. */
  async write<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    if (!this.inTransaction) return this.committed(fn);
    try {
      return await fn(this.db);
    } catch (err) {
      throw toMeshError(err);
    }
  }
}

/** Serialises a JSON payload, refusing what JSON cannot represent (undefined, functions, bigint, cycles). */
export function encodeJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} is not JSON-serialisable`, { cause: err });
  }
  if (text === undefined) throw new MeshError(Code.INVALID_ARGUMENT, `${what} is not JSON-serialisable`);
  return text;
}

/** Refuses an empty or non-string identifier, naming it. */
export function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} must be a non-empty string`);
  }
  return value;
}

/** Refuses a version that is not a positive integer, naming it. */
export function requireVersion(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} must be a positive integer`);
  }
  return value;
}

/** The ABORTED error of a compare-and-set that lost: the caller re-reads and retries. */
export function staleVersion(what: string, expected: number, actual: number): MeshError {
  return new MeshError(Code.ABORTED, `${what} is at version ${actual}, not ${expected}: re-read and retry`);
}
