import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import { migrations, type ColumnTypes } from './migrations.js';
import { compatFloors, recordedFloors, recordingCompat, versionOf, type SchemaMigration } from './schema-compat.js';

/** The table recording which migrations ran (Kysely's migrator format). */
export const MIGRATION_TABLE = 'agentmesh_migration';
const LOCK_TABLE = 'agentmesh_migration_lock';

/** Where the migrations run. */
export interface MigrateOptions {
  types: ColumnTypes;
  /** PostgreSQL schema of this service; undefined on SQLite. */
  schema: string | undefined;
  log?: Logger;
  /**
   * The migrations this code knows. Default, and the only list services use: this release's
   * (`migrations(types)`). Tests pass others to play an older or a newer release.
   */
  migrations?: Record<string, SchemaMigration>;
}

async function appliedMigrations(db: Kysely<unknown>, schema: string | undefined): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE && (schema === undefined || t.schema === schema))) return [];
  const scoped = (schema === undefined ? db : db.withSchema(schema)) as unknown as Kysely<
    Record<string, { name: string }>
  >;
  const rows = await scoped.selectFrom(MIGRATION_TABLE).select('name').execute();
  return rows.map((r) => r.name);
}

interface Judged {
  db: Kysely<unknown>;
  schema: string | undefined;
  known: string[];
  codeVersion: number;
  log?: Logger;
}

/**
 * Judges a schema that migrations unknown to this code have moved on: undefined when there are
 * none; its version when every unknown migration recorded a floor this code meets (expand-only
 * since this code's release: it runs, with a warning); otherwise FAILED_PRECONDITION naming the
 * versions and the floor, since old code on a contracted schema could misread or drop data.
 */
async function runnableNewerVersion(
  applied: string[],
  { db, schema, known, codeVersion, log }: Judged,
): Promise<number | undefined> {
  const unknown = applied.filter((name) => !known.includes(name)).sort();
  if (unknown.length === 0) return undefined;
  const dbVersion = Math.max(...applied.map(versionOf));
  const recorded = await recordedFloors(db, schema, unknown);
  const unrecorded = unknown.filter((name) => !recorded.has(name));
  const missing = known.filter((name) => !applied.includes(name));
  const floor = unrecorded.length > 0 ? undefined : Math.max(...recorded.values());
  const newer = `state schema version ${dbVersion} is newer than this code knows (version ${codeVersion}; unknown migrations: ${unknown.join(', ')})`;
  if (floor !== undefined && codeVersion >= floor && missing.length === 0) {
    log?.warn(
      { schemaVersion: dbVersion, codeVersion, readableBy: floor, unknownMigrations: unknown },
      `state schema version ${dbVersion} is newer; compatible with this code (version ${codeVersion} ≥ ${floor})`,
    );
    return dbVersion;
  }
  const why =
    floor === undefined
      ? `it records no compatibility floor for ${unrecorded.join(', ')}, so it may hold changes this code cannot read`
      : codeVersion < floor
        ? `a contract migration made it readable only by code version ≥ ${floor}`
        : `this code's migrations ${missing.join(', ')} never ran on it`;
  throw new MeshError(Code.FAILED_PRECONDITION, `${newer}: ${why}; run the newer release or restore a backup`);
}

/**
 * Runs `work` holding SQLite's write lock (BEGIN IMMEDIATE on the store's one connection), where
 * Kysely's migrator takes no lock and no transaction: a second process opening the same file
 * waits (busy timeout) instead of running the same migrations beside it, and a crash mid-way
 * leaves nothing half-done. PostgreSQL needs none of this (advisory lock, transactional DDL).
 */
async function exclusivelyOnSqlite<T>(db: Kysely<unknown>, schema: string | undefined, work: () => Promise<T>) {
  if (schema !== undefined) return work();
  await sql`begin immediate`.execute(db);
  try {
    const result = await work();
    await sql`commit`.execute(db);
    return result;
  } catch (err) {
    await sql`rollback`.execute(db).catch(() => undefined);
    throw err;
  }
}

/**
 * Brings the schema to the newest version this code knows and returns the version the database
 * is at. On a schema that newer code has already migrated it changes nothing: it runs when every newer
 * migration recorded a floor this code meets (expand), and refuses (FAILED_PRECONDITION)
 * after a contract migration that needs newer code. Concurrent migrators are serialized by
 * Kysely's migration lock (an advisory lock on PostgreSQL) or SQLite's write lock.
 */
export async function migrate(
  db: Kysely<unknown>,
  { types, schema, log, migrations: list = migrations(types) }: MigrateOptions,
): Promise<number> {
  const floors = compatFloors(list);
  const known = [...floors.keys()];
  const codeVersion = versionOf(known[known.length - 1] ?? '0');
  const judged: Judged = { db, schema, known, codeVersion, log };
  const recording: Record<string, Migration> = Object.fromEntries(
    known.map((name) => [name, recordingCompat(name, list[name]!, floors.get(name)!)]),
  );
  return exclusivelyOnSqlite(db, schema, async () => {
    const newer = await runnableNewerVersion(await appliedMigrations(db, schema), judged);
    if (newer !== undefined) return newer;
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => recording },
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: LOCK_TABLE,
      migrationTableSchema: schema,
    });
    const { error, results = [] } = await migrator.migrateToLatest();
    for (const r of results) {
      log?.info({ migration: r.migrationName, status: r.status }, 'state migration');
    }
    if (error === undefined) return codeVersion;
    // Newer code may have migrated while this one waited for the lock: judged as at start.
    const newerMeanwhile = await runnableNewerVersion(await appliedMigrations(db, schema), judged);
    if (newerMeanwhile !== undefined) return newerMeanwhile;
    const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'setup';
    throw new MeshError(Code.FAILED_PRECONDITION, `state migration ${failed} failed`, { cause: error });
  });
}
