import type { Kysely } from 'kysely';
import { openPostgres } from '../../mesh/state/postgres-backend.js';
import { openSqlite } from '../../mesh/state/sqlite-backend.js';
import type { Backend } from '../../mesh/state/backend.js';
import { migrations, type ColumnTypes } from '../../mesh/state/migrations.js';
import { versionOf, type SchemaMigration } from '../../mesh/state/schema-compat.js';
import type { StateConfig } from '../../mesh/index.js';

/**
 * Releases of a service, played by migration lists: `v1` is this code's own list (what openStore
 * runs), `v2` adds an expand migration, `v3` a contract that renames a column v1 and v2 read,
 * `v4` another expand after it; `v2c` is v2 plus a contract that v2 itself can still run on
 * (readableBy v2). Versions follow the production list, so they stay right as it grows.
 */
export type Release = 'v1' | 'v2' | 'v3' | 'v4' | 'v2c';

/** The schema version of the production list (v1's). */
export function productionVersion(types: ColumnTypes): number {
  return Math.max(...Object.keys(migrations(types)).map(versionOf));
}

const pad = (n: number) => String(n).padStart(4, '0');

/** The names of the test migrations, by what they do. */
export function testMigrationNames(types: ColumnTypes) {
  const n = productionVersion(types);
  return {
    expand: `${pad(n + 1)}_test_task_priority`,
    contract: `${pad(n + 2)}_test_rename_updated_by`,
    laterExpand: `${pad(n + 3)}_test_task_labels`,
    lenientContract: `${pad(n + 2)}_test_drop_priority_index`,
  };
}

// Expand: a nullable column and a table that counts its own runs (one row per execution of up(),
// so a test sees whether concurrent migrators ran it twice).
const priority: SchemaMigration = {
  kind: 'expand',
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('tasks').addColumn('priority', 'integer').execute();
    await db.schema.createIndex('tasks_priority_idx').on('tasks').column('priority').execute();
    await db.schema.createTable('test_migration_runs').addColumn('migration', 'text').execute();
    await (db as Kysely<Record<string, { migration: string }>>)
      .insertInto('test_migration_runs')
      .values({ migration: 'priority' })
      .execute();
  },
};

// Contract: a column every earlier release reads and writes changes its name.
const renameUpdatedBy: SchemaMigration = {
  kind: 'contract',
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('tasks').renameColumn('updated_by', 'changed_by').execute();
  },
};

// A contract that only v1 cannot live with is declared readable by v2 (which no longer needs the index).
const dropPriorityIndex = (readableBy: number): SchemaMigration => ({
  kind: 'contract',
  readableBy,
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('tasks_priority_idx').execute();
  },
});

const labels: SchemaMigration = {
  kind: 'expand',
  async up(db: Kysely<unknown>) {
    await db.schema.createTable('test_task_labels').addColumn('task_id', 'text').addColumn('label', 'text').execute();
  },
};

/** The migrations of a release. */
export function releaseMigrations(release: Release, types: ColumnTypes): Record<string, SchemaMigration> {
  const names = testMigrationNames(types);
  const v1 = migrations(types);
  const v2 = { ...v1, [names.expand]: priority };
  switch (release) {
    case 'v1':
      return v1;
    case 'v2':
      return v2;
    case 'v2c':
      return { ...v2, [names.lenientContract]: dropPriorityIndex(productionVersion(types) + 1) };
    case 'v3':
      return { ...v2, [names.contract]: renameUpdatedBy };
    case 'v4':
      return { ...v2, [names.contract]: renameUpdatedBy, [names.laterExpand]: labels };
  }
}

/** The backend a service opens, as openStore opens it (without migrating). */
export function openBackend(service: string, config: StateConfig): Backend {
  return config.DATABASE_URL === undefined
    ? openSqlite(service, config)
    : openPostgres(service, config.DATABASE_URL, config);
}

/** Closes what openBackend opened. */
export async function closeBackend(backend: Backend): Promise<void> {
  await backend.notices.close();
  await backend.db.destroy();
}
