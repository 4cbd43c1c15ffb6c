import type { Kysely, Selectable } from 'kysely';
import { Code, MeshError } from '../../../mesh/index.js';
import { encodeJson, type JsonValue, type StoreContext } from '../../../mesh/index.js';
import type { RegistryDatabase as Database, RegistryEntriesTable, RegistryLeasesTable } from './registry-tables.js';

/** A stored registry entry. */
export interface RegistryEntryRecord {
  key: string;
  kind: 'agent' | 'tool';
  name: string;
  version: string;
  card: JsonValue;
  lifecycle: string;
  identity: string;
  revision: number;
  registeredAt: Date;
  updatedAt: Date;
}

/** A live instance of an entry. */
export interface LeaseRecord {
  leaseId: string;
  entryKey: string;
  instanceId: string;
  endpoint: JsonValue;
  expiresAt: Date;
  ttlMs: number;
}

/** One change in the registry's ordered log. */
export interface RegistryChange {
  revision: number;
  change: 'ADDED' | 'UPDATED' | 'REMOVED';
  entryKey: string;
  entry: JsonValue;
  at: Date;
}

/** A change to log together with a write: the entry as it should be shown to watchers. */
export interface ChangeToLog {
  change: RegistryChange['change'];
  entryKey: string;
  entry: unknown;
}

/**
 * The registry's records: entries, leases and the change log. Every write
 * appends its change in the same transaction, with the next revision, so
 * Watch replays exactly what happened, in order.
 */
export class RegistryRecords {
  private readonly ctx: StoreContext<Database>;

  constructor(ctx: StoreContext) {
    this.ctx = ctx.withTables<Database>();
  }

  private async log(trx: Kysely<Database>, changes: ChangeToLog[], principal: string, at: string): Promise<number[]> {
    const last = await trx
      .selectFrom('registry_changes')
      .select((eb) => eb.fn.max('revision').as('max'))
      .executeTakeFirst();
    let revision = Number(last?.max ?? 0);
    const out: number[] = [];
    for (const c of changes) {
      revision++;
      await trx
        .insertInto('registry_changes')
        .values({
          revision,
          change: c.change,
          entry_key: c.entryKey,
          entry: encodeJson(c.entry, 'registry entry'),
          principal,
          at,
        })
        .execute();
      out.push(revision);
    }
    return out;
  }

  /** Inserts or replaces an entry's card (lifecycle kept on update) and one instance's lease (replacing that instance's previous lease), logging `changes`. */
  async register(
    entry: { key: string; kind: 'agent' | 'tool'; name: string; version: string; card: unknown; identity: string },
    lease: { leaseId: string; instanceId: string; endpoint: unknown; expiresAt: Date; ttlMs: number },
    changes: ChangeToLog[],
    principal: string,
  ): Promise<{ entry: RegistryEntryRecord; revisions: number[] }> {
    const at = this.ctx.now();
    return this.ctx.write(async (trx) => {
      const existingRow = await trx
        .selectFrom('registry_entries')
        .selectAll()
        .where('key', '=', entry.key)
        .executeTakeFirst();
      const existing = existingRow && this.toEntry(existingRow);
      const revisions = await this.log(trx, changes, principal, at);
      const revision = revisions.at(-1) ?? existing?.revision ?? 0;
      const card = encodeJson(entry.card, 'card');
      if (existing) {
        await trx
          .updateTable('registry_entries')
          .set({ card, revision, updated_at: at, updated_by: principal })
          .where('key', '=', entry.key)
          .execute();
      } else {
        await trx
          .insertInto('registry_entries')
          .values({
            ...entry,
            card,
            lifecycle: 'ACTIVE',
            revision,
            registered_at: at,
            updated_at: at,
            updated_by: principal,
          })
          .execute();
      }
      await trx
        .deleteFrom('registry_leases')
        .where('entry_key', '=', entry.key)
        .where('instance_id', '=', lease.instanceId)
        .execute();
      await trx
        .insertInto('registry_leases')
        .values({
          lease_id: lease.leaseId,
          entry_key: entry.key,
          instance_id: lease.instanceId,
          endpoint: encodeJson(lease.endpoint, 'endpoint'),
          expires_at: lease.expiresAt.toISOString(),
          ttl_ms: lease.ttlMs,
          registered_at: at,
        })
        .execute();
      const row = await trx
        .selectFrom('registry_entries')
        .selectAll()
        .where('key', '=', entry.key)
        .executeTakeFirstOrThrow();
      return { entry: this.toEntry(row), revisions };
    });
  }

  /** Extends a lease; NOT_FOUND when it has ended. */
  async renew(leaseId: string, expiresAt: Date): Promise<LeaseRecord> {
    const row = await this.ctx.write((trx) =>
      trx
        .updateTable('registry_leases')
        .set({ expires_at: expiresAt.toISOString() })
        .where('lease_id', '=', leaseId)
        .returningAll()
        .executeTakeFirst(),
    );
    if (!row)
      throw new MeshError(Code.NOT_FOUND, `lease ${leaseId} not found (lapsed or deregistered): register again`);
    return this.toLease(row);
  }

  /** Ends leases, logging `changes`. */
  async endLeases(leaseIds: string[], changes: ChangeToLog[], principal: string): Promise<number[]> {
    if (!leaseIds.length && !changes.length) return [];
    const at = this.ctx.now();
    return this.ctx.write(async (trx) => {
      if (leaseIds.length) await trx.deleteFrom('registry_leases').where('lease_id', 'in', leaseIds).execute();
      return this.log(trx, changes, principal, at);
    });
  }

  /** Sets the lifecycle of entries, logging `changes`. */
  async setLifecycle(keys: string[], lifecycle: string, changes: ChangeToLog[], principal: string): Promise<number[]> {
    const at = this.ctx.now();
    return this.ctx.write(async (trx) => {
      const revisions = await this.log(trx, changes, principal, at);
      await trx
        .updateTable('registry_entries')
        .set({ lifecycle, updated_at: at, updated_by: principal, revision: revisions.at(-1) ?? 0 })
        .where('key', 'in', keys)
        .execute();
      return revisions;
    });
  }

  /** Every entry and live lease, for rebuilding the in-memory index at startup. */
  async loadAll(): Promise<{ entries: RegistryEntryRecord[]; leases: LeaseRecord[]; revision: number }> {
    return this.ctx.read(async (db) => {
      const entries = (await db.selectFrom('registry_entries').selectAll().execute()).map((r) => this.toEntry(r));
      const leases = (await db.selectFrom('registry_leases').selectAll().execute()).map((r) => this.toLease(r));
      const last = await db
        .selectFrom('registry_changes')
        .select((eb) => eb.fn.max('revision').as('max'))
        .executeTakeFirst();
      return { entries, leases, revision: Number(last?.max ?? 0) };
    });
  }

  /** Changes after a revision, oldest first. */
  async changesAfter(revision: number, limit = 1_000): Promise<RegistryChange[]> {
    const rows = await this.ctx.read((db) =>
      db
        .selectFrom('registry_changes')
        .selectAll()
        .where('revision', '>', revision)
        .orderBy('revision')
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => ({
      revision: r.revision,
      change: r.change as RegistryChange['change'],
      entryKey: r.entry_key,
      entry: this.ctx.codec.json(r.entry),
      at: this.ctx.codec.time(r.at),
    }));
  }

  private toEntry(r: Selectable<RegistryEntriesTable>): RegistryEntryRecord {
    const { json, time } = this.ctx.codec;
    return {
      key: r.key,
      kind: r.kind as 'agent' | 'tool',
      name: r.name,
      version: r.version,
      card: json(r.card),
      lifecycle: r.lifecycle,
      identity: r.identity,
      revision: r.revision,
      registeredAt: time(r.registered_at),
      updatedAt: time(r.updated_at),
    };
  }

  private toLease(r: Selectable<RegistryLeasesTable>): LeaseRecord {
    return {
      leaseId: r.lease_id,
      entryKey: r.entry_key,
      instanceId: r.instance_id,
      endpoint: this.ctx.codec.json(r.endpoint),
      expiresAt: this.ctx.codec.time(r.expires_at),
      ttlMs: r.ttl_ms,
    };
  }
}
