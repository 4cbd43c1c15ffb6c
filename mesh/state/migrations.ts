import { sql, type Kysely } from 'kysely';
import type { SchemaMigration } from './schema-compat.js';

/** Column types that differ between the dialects; everything else is shared. */
export interface ColumnTypes {
  json: 'jsonb' | 'text';
  time: 'timestamptz' | 'text';
}

// Every statement is idempotent (IF NOT EXISTS): migrations run in one transaction on both
// backends now (migrate.ts), but releases before that ran SQLite's outside one.
function initial(types: ColumnTypes): SchemaMigration {
  return {
    kind: 'expand',
    async up(db: Kysely<unknown>) {
      const { json, time } = types;
      await db.schema
        .createTable('conversations')
        .ifNotExists()
        .addColumn('context_id', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state', json, (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('conversation_versions')
        .ifNotExists()
        .addColumn('context_id', 'text', (c) => c.notNull().references('conversations.context_id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state', json, (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('restored_from', 'integer')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('conversation_versions_pk', ['context_id', 'version'])
        .execute();
      await db.schema
        .createTable('tasks')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('context_id', 'text', (c) => c.notNull())
        .addColumn('state', 'integer', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('data', json, (c) => c.notNull())
        .addColumn('event_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('step_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('tasks_context_idx').ifNotExists().on('tasks').column('context_id').execute();
      await db.schema.createIndex('tasks_state_idx').ifNotExists().on('tasks').column('state').execute();
      await db.schema
        .createTable('task_versions')
        .ifNotExists()
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state', 'integer', (c) => c.notNull())
        .addColumn('data', json, (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('task_versions_pk', ['task_id', 'version'])
        .execute();
      await db.schema
        .createTable('task_events')
        .ifNotExists()
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('event', json, (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('task_events_pk', ['task_id', 'sequence'])
        .execute();
      // No foreign key: the request id is claimed before the task row exists, so that
      // concurrent duplicates queue on this key instead of racing to insert tasks.
      await db.schema
        .createTable('task_requests')
        .ifNotExists()
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('task_requests_pk', ['principal', 'request_id'])
        .execute();
      await db.schema
        .createTable('plans')
        .ifNotExists()
        .addColumn('plan_id', 'text', (c) => c.primaryKey())
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('plan', json, (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addUniqueConstraint('plans_task_revision_uq', ['task_id', 'revision'])
        .execute();
      await db.schema
        .createTable('execution_records')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('record', json, (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('execution_records_task_idx')
        .ifNotExists()
        .on('execution_records')
        .columns(['task_id', 'kind'])
        .execute();
      await db.schema
        .createTable('step_transitions')
        .ifNotExists()
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('state', 'integer', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('detail', json)
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('step_transitions_pk', ['task_id', 'sequence'])
        .execute();
      await db.schema
        .createTable('tool_results')
        .ifNotExists()
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text')
        .addColumn('result', json)
        .addColumn('lease_until', time, (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('completed_at', time)
        .execute();
    },
  };
}

// The registry's book of record: entries (one per name@version), live instances
// (leases), and the ordered change log that Watch replays.
function registry(types: ColumnTypes): SchemaMigration {
  return {
    kind: 'expand',
    async up(db: Kysely<unknown>) {
      const { json, time } = types;
      await db.schema
        .createTable('registry_entries')
        .ifNotExists()
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('card', json, (c) => c.notNull())
        .addColumn('lifecycle', 'text', (c) => c.notNull())
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('registered_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('registry_entries_name_idx')
        .ifNotExists()
        .on('registry_entries')
        .column('name')
        .execute();
      await db.schema
        .createTable('registry_leases')
        .ifNotExists()
        .addColumn('lease_id', 'text', (c) => c.primaryKey())
        .addColumn('entry_key', 'text', (c) => c.notNull().references('registry_entries.key'))
        .addColumn('instance_id', 'text', (c) => c.notNull())
        .addColumn('endpoint', json, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('ttl_ms', 'integer', (c) => c.notNull())
        .addColumn('registered_at', time, (c) => c.notNull())
        .addUniqueConstraint('registry_leases_instance_uq', ['entry_key', 'instance_id'])
        .execute();
      await db.schema
        .createTable('registry_changes')
        .ifNotExists()
        .addColumn('revision', 'integer', (c) => c.primaryKey())
        .addColumn('change', 'text', (c) => c.notNull())
        .addColumn('entry_key', 'text', (c) => c.notNull())
        .addColumn('entry', json, (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .execute();
    },
  };
}

// Task ownership by lease (expand only: nullable or defaulted columns and an index, so a
// replica of the previous version keeps working on the same schema). The lease's expiry is
// epoch ms by the database's clock: replicas' clocks never have to agree.
function taskLeases(types: ColumnTypes): SchemaMigration {
  return {
    kind: 'expand',
    async up(db: Kysely<unknown>) {
      const columns: [string, string][] = [
        ['owner', 'text'],
        ['lease_until', 'bigint'],
        ['fencing', 'integer NOT NULL DEFAULT 0'],
      ];
      if (types.json === 'jsonb') {
        for (const [name, type] of columns)
          await sql`ALTER TABLE tasks ADD COLUMN IF NOT EXISTS ${sql.raw(name)} ${sql.raw(type)}`.execute(db);
      } else {
        // SQLite has no ADD COLUMN IF NOT EXISTS: skip what is there (idempotent like the rest).
        const have = new Set(
          (await sql<{ name: string }>`PRAGMA table_info(tasks)`.execute(db)).rows.map((r) => r.name),
        );
        for (const [name, type] of columns)
          if (!have.has(name)) await sql`ALTER TABLE tasks ADD COLUMN ${sql.raw(name)} ${sql.raw(type)}`.execute(db);
      }
      // The takeover scan: live tasks whose lease is absent or lapsed.
      await db.schema
        .createIndex('tasks_lease_idx')
        .ifNotExists()
        .on('tasks')
        .columns(['state', 'lease_until'])
        .execute();
    },
  };
}

// Registry replicas over one database (expand only): a counter row that every registry
// write locks first, so revisions are assigned by the store in commit order; a per-entry
// sequence that followers re-read entries by; and lease expiry in the database's own
// clock (epoch ms), so no replica expires a lease from the time it happens to hold.
function registryReplicas(types: ColumnTypes): SchemaMigration {
  return {
    kind: 'expand',
    async up(db: Kysely<unknown>) {
      const postgres = types.json === 'jsonb';
      await db.schema
        .createTable('registry_counter')
        .ifNotExists()
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .execute();
      await sql`INSERT INTO registry_counter (id, revision, seq)
        SELECT 1, (SELECT COALESCE(MAX(revision), 0) FROM registry_changes), 0
        WHERE NOT EXISTS (SELECT 1 FROM registry_counter WHERE id = 1)`.execute(db);
      // Idempotent like the rest (see above): PostgreSQL adds a column only if it is missing,
      // SQLite is asked which columns it has.
      const has = async (table: string, column: string) =>
        (await db.introspection.getTables()).some((t) => t.name === table && t.columns.some((c) => c.name === column));
      if (postgres) {
        await sql`ALTER TABLE registry_entries ADD COLUMN IF NOT EXISTS state_seq integer NOT NULL DEFAULT 0`.execute(
          db,
        );
        await sql`ALTER TABLE registry_leases ADD COLUMN IF NOT EXISTS expires_ms bigint`.execute(db);
        await sql`UPDATE registry_leases SET expires_ms = (EXTRACT(EPOCH FROM expires_at) * 1000)::bigint
          WHERE expires_ms IS NULL`.execute(db);
      } else {
        if (!(await has('registry_entries', 'state_seq')))
          await db.schema
            .alterTable('registry_entries')
            .addColumn('state_seq', 'integer', (c) => c.notNull().defaultTo(0))
            .execute();
        if (!(await has('registry_leases', 'expires_ms')))
          await db.schema.alterTable('registry_leases').addColumn('expires_ms', 'bigint').execute();
        await sql`UPDATE registry_leases
          SET expires_ms = CAST(ROUND((julianday(expires_at) - 2440587.5) * 86400000) AS INTEGER)
          WHERE expires_ms IS NULL`.execute(db);
      }
      await db.schema
        .createIndex('registry_entries_state_seq_idx')
        .ifNotExists()
        .on('registry_entries')
        .column('state_seq')
        .execute();
      await db.schema
        .createIndex('registry_leases_expires_idx')
        .ifNotExists()
        .on('registry_leases')
        .column('expires_ms')
        .execute();
    },
  };
}

// Task listings (ListTasks; expand only: indexes): newest change first over all tasks, and
// over one subject's tasks, keyset-paged on (updated_at, id).
function taskListing(): SchemaMigration {
  return {
    kind: 'expand',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('tasks_updated_idx')
        .ifNotExists()
        .on('tasks')
        .columns(['updated_at', 'id'])
        .execute();
      await db.schema
        .createIndex('tasks_subject_updated_idx')
        .ifNotExists()
        .on('tasks')
        .columns(['created_by', 'updated_at', 'id'])
        .execute();
    },
  };
}

/**
 * The migrations this code knows, by name; names sort in the order they run and their
 * leading number is the schema version. Never edit a released migration: add the next one,
 * and declare its kind (docs/state.md, "Rolling upgrades"): expand unless it removes or
 * reshapes something an older release reads.
 */
export function migrations(types: ColumnTypes): Record<string, SchemaMigration> {
  return {
    '0001_initial': initial(types),
    '0002_registry': registry(types),
    '0003_task_leases': taskLeases(types),
    '0004_registry_replicas': registryReplicas(types),
    '0005_task_listing': taskListing(),
  };
}
