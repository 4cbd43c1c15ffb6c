import type { Kysely } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { toMeshError } from './db-errors.js';
import type { Database } from './tables.js';

/** A JSON value as stored and returned by the store. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** How a backend returns JSON and timestamp columns; the only per-dialect code outside the backends. */
export interface Codec {
  json(raw: unknown): JsonValue;
  time(raw: unknown): Date;
}

/** What every record module shares: the query builder, the codec and the clock. */
export class StoreContext<DB = Database> {
  constructor(
    readonly db: Kysely<DB>,
    readonly codec: Codec,
    private readonly clock: () => Date = () => new Date(),
    /** True when `db` is an open transaction: writes join it instead of starting their own. */
    private readonly inTransaction = false,
  ) {}

  /** Runs fn with a context whose reads and writes all belong to one transaction. */
  async transaction<T>(fn: (ctx: StoreContext<DB>) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    try {
      return await this.db.transaction().execute((trx) => fn(new StoreContext(trx, this.codec, this.clock, true)));
    } catch (err) {
      throw toMeshError(err);
    }
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
    try {
      return this.inTransaction ? await fn(this.db) : await this.db.transaction().execute(fn);
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
