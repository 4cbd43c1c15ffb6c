import { z } from 'zod';
import { loadConfig, millis } from '../config/index.js';

const count = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(min, `must be between ${min} and ${max}`)
    .max(max, `must be between ${min} and ${max}`);

/** The environment variables that choose and tune a service's state store. */
export const stateConfigSchema = z.object({
  /** PostgreSQL connection URL; when unset the embedded SQLite store is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** Root of the services' data directories; the store lives in <root>/<namespace>/<name>/. */
  AGENTMESH_DATA_DIR: z.string().default('.agentmesh/data'),
  /** PostgreSQL schema holding this service's tables (default: the service name). */
  AGENTMESH_DB_SCHEMA: z
    .string()
    .regex(/^[A-Za-z0-9_\-/]{1,63}$/, 'must be 1-63 letters, digits, _, - or /')
    .optional(),
  /** Connections per process; the pool queues callers beyond this. */
  AGENTMESH_DB_POOL_MAX: count(1, 1000).default(10),
  /** Server-side bound on every statement, so a stuck query cannot hold a connection forever. */
  AGENTMESH_DB_STATEMENT_TIMEOUT_MS: millis().default(10_000),
  /**
   * Server-side bound on an open transaction waiting for its client: a replica frozen
   * mid-transaction (SIGSTOP, a long pause) releases its row locks after this, so the
   * replicas taking over its tasks are not held up by them.
   */
  AGENTMESH_DB_IDLE_IN_TRANSACTION_MS: millis().default(5_000),
  /** Bound on one attempt to open a connection. */
  AGENTMESH_DB_CONNECT_TIMEOUT_MS: millis().default(5_000),
  /** How long to keep retrying connections while the server is down or restarting. */
  AGENTMESH_DB_RECONNECT_MS: millis().default(15_000),
  /** Idle connections are closed after this long. */
  AGENTMESH_DB_IDLE_TIMEOUT_MS: millis().default(30_000),
  /**
   * PostgreSQL's commit flush. `on` (the default): a write is answered once its WAL is on
   * disk. `off` trades durability for latency: commits are answered before the flush, and a
   * crash of the database server (not of the service) may lose the writes of the last
   * ~0.6 s (3 × wal_writer_delay) that callers were told had succeeded; the database stays
   * consistent. An opt-in for stores whose recent writes can be redone.
   */
  AGENTMESH_DB_SYNCHRONOUS_COMMIT: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  /**
   * How task writes outside a transaction reach PostgreSQL. `named` (the default): a
   * prepared statement per connection, parsed and planned once. `unnamed`: parsed on every
   * call, for a pooler in
   * transaction mode that does not keep prepared statements per client (PgBouncer before
   * 1.21, or without max_prepared_statements). A named statement the pooler loses is
   * detected and the store falls back to unnamed with a warning.
   */
  AGENTMESH_DB_PREPARED_STATEMENTS: z
    .enum(['named', 'unnamed'], { error: 'must be named or unnamed' })
    .default('named'),
  /**
   * FULL syncs the WAL on every commit, so an acknowledged write survives power loss;
   * NORMAL survives process crashes (kill -9) but may lose the last commits on power loss.
   */
  AGENTMESH_SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL'], { error: 'must be FULL or NORMAL' }).default('FULL'),
  /** How long a writer waits for another process's lock on the SQLite file. */
  AGENTMESH_SQLITE_BUSY_TIMEOUT_MS: millis().default(5_000),
});

/** Parsed state store settings. */
export type StateConfig = z.infer<typeof stateConfigSchema>;

/** Reads the state store settings from the environment; a bad variable throws a ConfigError naming it. */
export function loadStateConfig(env: NodeJS.ProcessEnv = process.env): StateConfig {
  return loadConfig(stateConfigSchema, env);
}
