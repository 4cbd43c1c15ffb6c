import { Migrator, type Kysely } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import { migrations, versionOf, type ColumnTypes } from './migrations.js';

/** The table recording which migrations ran (Kysely's migrator format). */
export const MIGRATION_TABLE = 'agentmesh_migration';
const LOCK_TABLE = 'agentmesh_migration_lock';

/** Where the migrations run. */
export interface MigrateOptions {
  types: ColumnTypes;
  /** PostgreSQL schema of this service; undefined on SQLite. */
  schema: string | undefined;
  log?: Logger;
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

/**
 * Brings the schema to the newest version this code knows and returns that version.
 * Refuses (FAILED_PRECONDITION) a database migrated by newer code: running old code on
 * a newer schema could silently misread or drop data the newer code relies on.
 */
export async function migrate(db: Kysely<unknown>, { types, schema, log }: MigrateOptions): Promise<number> {
  const known = migrations(types);
  const names = Object.keys(known).sort();
  const codeVersion = versionOf(names[names.length - 1] ?? '0');
  const applied = await appliedMigrations(db, schema);
  const unknown = applied.filter((name) => !(name in known)).sort();
  if (unknown.length > 0) {
    const dbVersion = Math.max(...applied.map(versionOf));
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `state schema version ${dbVersion} is newer than this code knows (version ${codeVersion}; ` +
        `unknown migrations: ${unknown.join(', ')}): run the newer release or restore a backup`,
    );
  }
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => known },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: LOCK_TABLE,
    migrationTableSchema: schema,
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  for (const r of results) {
    log?.info({ migration: r.migrationName, status: r.status }, 'state migration');
  }
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'setup';
    throw new MeshError(Code.FAILED_PRECONDITION, `state migration ${failed} failed`, { cause: error });
  }
  return codeVersion;
}
