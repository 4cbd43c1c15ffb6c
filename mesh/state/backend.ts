import type { Kysely, RawBuilder } from 'kysely';
import type { Codec } from './context.js';
import type { ColumnTypes } from './migrations.js';
import type { Notices } from './notifications.js';
import type { PreparedQuery } from './postgres-transition.js';
import type { Database } from './tables.js';

/** Which database a store runs on. */
export type BackendKind = 'sqlite' | 'postgres';

/**
 * What differs between the two databases, kept to the connection and column types: every
 * query is written once against `db`.
 */
export interface Backend {
  kind: BackendKind;
  db: Kysely<Database>;
  /** The PostgreSQL schema holding the service's tables; undefined on SQLite. */
  schema: string | undefined;
  /** The file, or the server and database without credentials, for logs. */
  location: string;
  types: ColumnTypes;
  codec: Codec;
  /** The database's clock in epoch milliseconds, as an SQL expression: one clock for every replica's leases. */
  nowMs: RawBuilder<number>;
  /** The database's clock `ms` milliseconds from now, as a value of a time column (see ColumnTypes.time). */
  timeIn(ms: number): RawBuilder<string>;
  /** Change notices: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite. */
  notices: Notices;
  /** PostgreSQL only: runs a statement on a pooled connection, prepared under its name unless configured not to. */
  prepared?: PreparedQuery;
  /** PostgreSQL only: the pool's connections, the most statements in flight at once. */
  poolMax?: number;
  /** Storage-level checks the database offers (SQLite's integrity_check); problems found. */
  physicalCheck(): Promise<string[]>;
}
