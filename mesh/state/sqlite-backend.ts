import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { sql, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Backend } from './backend.js';
import type { StateConfig } from './config.js';
import { SQLITE_CLOCK, type JsonValue } from './context.js';
import { Notices } from './notifications.js';
import { groupCommitKysely } from './sqlite-group-commit.js';
import { walSync } from './sqlite-wal-sync.js';
import type { Database as Schema } from './tables.js';

/** The SQLite file of a service: <data root>/<namespace>/<name>/state.db. */
export function sqlitePath(service: string, config: StateConfig): string {
  return resolve(join(config.AGENTMESH_DATA_DIR, ...service.split('/'), 'state.db'));
}

/**
 * Opens the embedded store. WAL lets readers run beside the writer and makes a commit one
 * append to the log; AGENTMESH_SQLITE_SYNCHRONOUS=FULL (the default) fsyncs that append before
 * the commit is answered, so an acknowledged write survives kill -9 and power loss alike (NORMAL
 * keeps it across kill -9 only). SQLite itself runs at NORMAL: with FULL, the driver fdatasyncs the
 * WAL in the thread pool (walSync) instead of blocking the event loop in each COMMIT, one sync
 * for all commits made while the previous one ran. Transactions that queue while one runs share
 * its COMMIT (GroupCommitDriver). A busy timeout makes a second process wait for the lock
 * instead of failing at once.
 */
export function openSqlite(
  service: string,
  config: StateConfig,
  log?: Logger,
  onFailure?: (failure: MeshError) => void,
): Backend {
  const file = sqlitePath(service, config);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new Database(file, { timeout: config.AGENTMESH_SQLITE_BUSY_TIMEOUT_MS });
  const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    sqlite.close();
    throw new Error(`cannot put ${file} in WAL mode (got ${String(mode)})`);
  }
  // FULL: the driver syncs the WAL after each COMMIT, off the event loop, before answering (see WalSync).
  const full = config.AGENTMESH_SQLITE_SYNCHRONOUS === 'FULL';
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // A failed WAL sync makes the store refuse everything until restarted (see GroupCommitDriver.failure).
  const db = groupCommitKysely<Schema>(
    sqlite,
    cachingStatements(sqlite),
    full ? walSync(file) : undefined,
    (failure) => {
      log?.error({ location: file, code: (failure.cause as { code?: unknown }).code }, failure.message);
      onFailure?.(failure);
    },
  );
  return {
    kind: 'sqlite',
    db,
    schema: undefined,
    location: file,
    types: { json: 'text', time: 'text' },
    nowMs: SQLITE_CLOCK.nowMs,
    timeIn: SQLITE_CLOCK.timeIn,
    // One process owns the file: notices stay in it.
    notices: new Notices(file),
    codec: {
      json: (raw) => JSON.parse(raw as string) as JsonValue,
      time: (raw) => new Date(raw as string),
    },
    async physicalCheck() {
      const pages = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
      const keys = await sql<Record<string, unknown>>`pragma foreign_key_check`.execute(db);
      return [
        ...pages.rows.map((r) => r.integrity_check).filter((m) => m !== 'ok'),
        ...keys.rows.map((r) => `foreign key violation: ${JSON.stringify(r)}`),
      ];
    },
  };
}

// Statements kept per SQL text, the least recently used out first.
const MAX_STATEMENTS = 256;

/**
 * The database as Kysely's SQLite driver sees it, with its statements prepared once per SQL text:
 * the driver prepares every query again, and preparing was a sixth of a registration's CPU
 * (measured at 64 writers). A stream (`iterate`) gets a statement of its own, as one that is
 * being iterated cannot run another query meanwhile.
 */
function cachingStatements(sqlite: Database.Database): SqliteDatabase {
  // The statement as the driver takes it, made once per SQL text too: a fresh wrapper (four
  // closures) per query was a tenth of this file's JavaScript time in the demo task (issue 22).
  const statements = new Map<string, SqliteStatement & { readonly: boolean }>();
  const wrap = (text: string): SqliteStatement & { readonly: boolean } => {
    const stmt = sqlite.prepare(text);
    return {
      reader: stmt.reader,
      // Whether it can write: an INSERT ... RETURNING is a reader too, and must wait for durability.
      readonly: stmt.readonly,
      all: (parameters) => stmt.all(parameters),
      run: (parameters) => stmt.run(parameters),
      iterate: (parameters) => sqlite.prepare(text).iterate(parameters) as IterableIterator<unknown>,
    };
  };
  return {
    close: () => sqlite.close(),
    prepare(text: string): SqliteStatement {
      let stmt = statements.get(text);
      if (stmt) statements.delete(text);
      else {
        stmt = wrap(text);
        if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value!);
      }
      statements.set(text, stmt);
      return stmt;
    },
  };
}
