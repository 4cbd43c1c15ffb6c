import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect, sql, type PostgresPool } from 'kysely';
import pg from 'pg';
import type { Logger } from '../telemetry/index.js';
import type { Backend } from './backend.js';
import type { StateConfig } from './config.js';
import type { JsonValue } from './context.js';
import { isConnectionError } from './db-errors.js';
import { Notices } from './notifications.js';
import { PostgresNotices } from './postgres-notices.js';
import type { PreparedQuery } from './postgres-transition.js';
import type { Database } from './tables.js';

/** The server and database of a URL without credentials, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'postgresql://(unparseable url)';
  }
}

// Opening a connection is safe to retry (nothing was sent yet), so while the server restarts
// callers wait up to the reconnect budget instead of failing. A statement whose connection
// dies mid-flight is not retried here: its outcome is unknown, and the caller decides.
function reconnectingPool(pool: pg.Pool, budgetMs: number): PostgresPool {
  return {
    async connect() {
      const until = Date.now() + budgetMs;
      for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
        try {
          return await pool.connect();
        } catch (err) {
          if (!isConnectionError(err) || Date.now() + delay > until) throw err;
          await sleep(delay);
        }
      }
    },
    end: () => pool.end(),
  };
}

// A named statement the server connection does not have (26000) or already has under that
// name (42P05): a pooler in transaction mode hands each transaction another server connection.
const POOLER_LOST_STATEMENT = new Set(['26000', '42P05']);

/**
 * Runs a statement on a pooled connection: `named`, pg parses and plans it once per connection,
 * then only binds and executes it. A pooler that does not keep prepared statements per client
 * fails named statements; the first such failure (nothing ran: the server refused it at parse
 * or bind) switches this store to unnamed statements, with a warning, and the statement is
 * sent again unnamed.
 */
function preparedQueries(pool: PostgresPool, named: boolean, log?: Logger): PreparedQuery {
  const run = async (query: { name?: string; text: string; values: unknown[] }) => {
    const client = (await pool.connect()) as pg.PoolClient;
    try {
      const result = await client.query(query);
      client.release();
      return result;
    } catch (err) {
      // A connection that failed mid-statement is dropped, not handed to the next caller.
      client.release(isConnectionError(err) ? (err as Error) : undefined);
      throw err;
    }
  };
  return async ({ name, text, values }) => {
    if (!named) return run({ text, values });
    try {
      return await run({ name, text, values });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !POOLER_LOST_STATEMENT.has(code)) throw err;
      if (named)
        log?.warn(
          { code },
          'named prepared statements are lost between transactions (a pooler in transaction mode?): using unnamed statements; set AGENTMESH_DB_PREPARED_STATEMENTS=unnamed to say so',
        );
      named = false;
      return run({ text, values });
    }
  };
}

/**
 * Opens the PostgreSQL store: a pool of `AGENTMESH_DB_POOL_MAX` connections whose
 * search_path is the service's own schema (database per service, or schema per service
 * when services share a database), with server-side statement and idle-transaction timeouts;
 * commits wait for their WAL flush unless AGENTMESH_DB_SYNCHRONOUS_COMMIT=off says otherwise;
 * task writes outside a transaction run as named prepared statements unless
 * AGENTMESH_DB_PREPARED_STATEMENTS=unnamed.
 */
export function openPostgres(service: string, url: string, config: StateConfig, log?: Logger): Backend {
  const schema = config.AGENTMESH_DB_SCHEMA ?? service;
  const durable = config.AGENTMESH_DB_SYNCHRONOUS_COMMIT === 'on';
  const pool = new pg.Pool({
    connectionString: url,
    max: config.AGENTMESH_DB_POOL_MAX,
    connectionTimeoutMillis: config.AGENTMESH_DB_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: config.AGENTMESH_DB_IDLE_TIMEOUT_MS,
    statement_timeout: config.AGENTMESH_DB_STATEMENT_TIMEOUT_MS,
    // A client that dies or freezes inside a transaction must not hold its row locks for long.
    idle_in_transaction_session_timeout: config.AGENTMESH_DB_IDLE_IN_TRANSACTION_MS,
    application_name: service,
    keepAlive: true,
    options: `-c search_path="${schema}"${durable ? '' : ' -c synchronous_commit=off'}`,
  });
  if (!durable)
    log?.warn(
      'AGENTMESH_DB_SYNCHRONOUS_COMMIT=off: writes are answered before they are on disk; a database server crash may lose the last ones',
    );
  // An idle connection that the server closes (restart, failover) emits here; without a
  // listener it would crash the process. The pool drops it and opens a new one on demand.
  pool.on('error', (err) => log?.warn({ err: err.message }, 'state store connection lost; reconnecting on demand'));
  // pg-pool listens only to idle clients. A checked-out one (e.g. inside a transaction,
  // between statements) whose server goes away would emit an unhandled 'error' and crash
  // the process; its pending queries fail anyway and the pool discards it on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const reconnecting = reconnectingPool(pool, config.AGENTMESH_DB_RECONNECT_MS);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: reconnecting }) });
  return {
    kind: 'postgres',
    db,
    schema,
    location: `${redactUrl(url)} schema "${schema}"`,
    types: { json: 'jsonb', time: 'timestamptz' },
    // clock_timestamp, not now(): now() is the transaction's start, which a long transaction would hold back.
    nowMs: sql<number>`floor(extract(epoch from clock_timestamp()) * 1000)::bigint`,
    timeIn: (ms) => sql<string>`clock_timestamp() + ${ms} * interval '1 millisecond'`,
    // NOTIFY reaches the whole database: the schema keeps services sharing one apart.
    notices: new Notices(schema, new PostgresNotices(url, config, service, log)),
    codec: {
      // pg already parses jsonb and timestamptz.
      json: (raw) => raw as JsonValue,
      time: (raw) => raw as Date,
    },
    prepared: preparedQueries(reconnecting, config.AGENTMESH_DB_PREPARED_STATEMENTS === 'named', log),
    poolMax: config.AGENTMESH_DB_POOL_MAX,
    // PostgreSQL protects pages with its WAL (and data checksums when enabled); there is no
    // cheap online page check, so the logical checks carry the weight here.
    physicalCheck: async () => [],
  };
}
