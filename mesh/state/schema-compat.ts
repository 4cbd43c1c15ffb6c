import type { Kysely, Migration } from 'kysely';

/**
 * A migration with what it does to code that does not know it. `expand` only adds (nullable or
 * defaulted columns, tables, indexes): code written before it still runs on the result, so
 * replicas of the previous release keep running and restarting during a rolling upgrade.
 * `contract` removes or reshapes what older code reads (drop, rename, NOT NULL without
 * default): only code of version `readableBy` or newer can run on the result (default: the
 * migration's own version). Run a contract only once every replica runs such code.
 */
export type SchemaMigration = Migration & ({ kind: 'expand' } | { kind: 'contract'; readableBy?: number });

/**
 * The table where every migration records the oldest code version that can still run on the
 * schema it leaves ("readable by code ≥ N"). It lives in the database, not in the code, so that
 * older code can judge a schema it has never heard of.
 */
export const COMPAT_TABLE = 'agentmesh_schema_compat';

/** The schema version a migration name stands for ("0003_x" → 3). */
export function versionOf(name: string): number {
  const version = Number.parseInt(name, 10);
  return Number.isFinite(version) ? version : 0;
}

/**
 * The floor each migration leaves, by name, in running order: the first migration's own
 * version, kept by every expand and raised by a contract to its `readableBy`. Throws on a
 * declaration that cannot be right (a floor above the migration's own version would lock out
 * the very code that runs it; an unknown kind would make the floor a guess).
 */
export function compatFloors(list: Record<string, SchemaMigration>): Map<string, number> {
  const floors = new Map<string, number>();
  let floor: number | undefined;
  for (const name of Object.keys(list).sort()) {
    const migration = list[name]!;
    const version = versionOf(name);
    floor ??= version;
    if (migration.kind === 'contract') {
      const readableBy = migration.readableBy ?? version;
      if (!Number.isInteger(readableBy) || readableBy < 1 || readableBy > version)
        throw new Error(`migration ${name}: readableBy must be a version from 1 to ${version}, got ${readableBy}`);
      floor = Math.max(floor, readableBy);
    } else if (migration.kind !== 'expand') {
      throw new Error(`migration ${name}: kind must be 'expand' or 'contract'`);
    }
    floors.set(name, floor);
  }
  return floors;
}

type CompatDb = Kysely<Record<string, { migration: string; kind: string; readable_by: number }>>;

/**
 * The migration as Kysely runs it: its own statements, then its row in the compatibility
 * table, in the same transaction on PostgreSQL (so the row exists exactly when the migration
 * counts as applied). Both statements tolerate a re-run, as an interrupted SQLite migration needs.
 */
export function recordingCompat(name: string, migration: SchemaMigration, floor: number): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await migration.up(db);
      const compat = db as unknown as CompatDb;
      await compat.schema
        .createTable(COMPAT_TABLE)
        .ifNotExists()
        .addColumn('migration', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('readable_by', 'integer', (c) => c.notNull())
        .execute();
      await compat
        .insertInto(COMPAT_TABLE)
        .values({ migration: name, kind: migration.kind, readable_by: floor })
        .onConflict((oc) => oc.column('migration').doNothing())
        .execute();
    },
  };
}

/** The recorded floors of the given migrations, by name (none recorded: empty, also when the table does not exist). */
export async function recordedFloors(
  db: Kysely<unknown>,
  schema: string | undefined,
  names: string[],
): Promise<Map<string, number>> {
  const tables = await db.introspection.getTables();
  if (
    names.length === 0 ||
    !tables.some((t) => t.name === COMPAT_TABLE && (schema === undefined || t.schema === schema))
  )
    return new Map();
  const scoped = (schema === undefined ? db : db.withSchema(schema)) as unknown as CompatDb;
  const rows = await scoped
    .selectFrom(COMPAT_TABLE)
    .select(['migration', 'readable_by'])
    .where('migration', 'in', names)
    .execute();
  return new Map(rows.map((r) => [r.migration, Number(r.readable_by)]));
}
