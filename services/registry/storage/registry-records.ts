import { sql, type ExpressionBuilder, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import { Code, isMeshError, MeshError } from '../../../mesh/index.js';
import { encodeJson, type JsonValue, type StoreContext } from '../../../mesh/index.js';
import type { RegistryDatabase as Database, RegistryEntriesTable, RegistryLeasesTable } from './registry-tables.js';
import { GroupCommit, NeedsSavepoint } from './group-commit.js';
import { registryQueries } from './registry-queries.js';
import { inSavepoint, RegistryWrite } from './registry-write.js';

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

/** Where the shared records stand: the last revision logged and the last write made. */
export interface RegistryPosition {
  revision: number;
  seq: number;
}

/** Entries (with all their live leases) as they are in the store. */
export interface EntriesWithLeases {
  entries: RegistryEntryRecord[];
  leases: LeaseRecord[];
}

/** The notice channel of registry writes (the payload is the write's sequence number; followers re-read anyway). */
export const REGISTRY_CHANNEL = 'registry';

// Bound lists in `IN (…)` well below both drivers' parameter limits.
const CHUNK = 500;

/**
 * The registry's records: entries, leases and the change log, shared by every
 * replica. Writes go through `write`, which serialises writers across replicas on
 * the counter row; reads let each replica follow what the others wrote.
 */
export class RegistryRecords {
  private readonly ctx: StoreContext<Database>;
  /**
   * Heartbeats arriving together share one transaction on SQLite (one fsync for all). On
   * PostgreSQL each keeps its own: they run in parallel on the pool and take no shared lock.
   */
  private readonly renewals: GroupCommit<Kysely<Database>> | undefined;
  /** The statements of a registration, compiled once for this store. */
  readonly queries = registryQueries({ nowMs: () => this.nowMs(), timeIn: (ms) => this.timeIn(ms) });

  constructor(ctx: StoreContext) {
    this.ctx = ctx.withTables<Database>();
    this.renewals =
      this.ctx.kind === 'sqlite'
        ? new GroupCommit<Kysely<Database>>({
            transaction: (body) => this.ctx.write(body),
            isolate: (trx, renewal) => this.ctx.read(() => inSavepoint(trx, () => renewal(trx))),
            // A renewal is one update: any failure is the database's, to be undone alone.
            attempt: async (trx, renewal) => {
              try {
                return await renewal(trx);
              } catch (err) {
                throw new NeedsSavepoint(err);
              }
            },
          })
        : undefined;
  }

  /**
   * Runs one write of a batch without a savepoint. A refusal (a MeshError) before any change
   * is the write's own answer; anything else — a failure after a change, a database error (which
   * on PostgreSQL aborts the whole transaction) — needs the batch run again with savepoints.
   */
  async attempt<T>(tx: RegistryWrite, write: (tx: RegistryWrite) => Promise<T>): Promise<T> {
    const before = tx.changes;
    try {
      return await write(tx);
    } catch (err) {
      if (isMeshError(err) && tx.changes === before) throw err;
      throw new NeedsSavepoint(err);
    }
  }

  /**
   * Runs one write of a batch (see GroupCommit) in its own savepoint; driver errors become
   * MeshErrors, as they do for a write of its own.
   */
  isolate<T>(tx: RegistryWrite, write: (tx: RegistryWrite) => Promise<T>): Promise<T> {
    return this.ctx.read(() => tx.isolated(write));
  }

  /** The database's clock in epoch milliseconds: leases expire by it, never by a replica's. */
  nowMs(): RawBuilder<number> {
    return this.ctx.nowMs();
  }

  /** The database's clock `ms` from now, as a time column's value. */
  timeIn(ms: number): RawBuilder<string> {
    return this.ctx.timeIn(ms);
  }

  /**
   * Lapsed by the database's clock. A lease without `expires_ms` was granted or renewed by a
   * registry older than 0004_registry_replicas (running beside this one during an upgrade): its
   * `expires_at` decides, so it is still swept once its older registry is gone.
   */
  lapsed(eb: ExpressionBuilder<Database, 'registry_leases'>) {
    return eb.or([
      eb('expires_ms', '<', this.nowMs()),
      eb.and([eb('expires_ms', 'is', null), eb('expires_at', '<', this.timeIn(0))]),
    ]);
  }

  /**
   * Runs fn in one transaction that first locks the counter row: writers on every
   * replica queue there, so revisions are gap-free and committed in their order (a
   * follower reading `revision > last` never skips a row committed later).
   */
  async write<T>(fn: (tx: RegistryWrite) => Promise<T>): Promise<T> {
    return this.ctx.write(async (trx) => {
      const counter = await trx
        .updateTable('registry_counter')
        .set((eb) => ({ seq: eb('seq', '+', 1) }))
        .where('id', '=', 1)
        .returning(['revision', 'seq'])
        .executeTakeFirstOrThrow();
      // An older registry (before the counter) may have logged past it during an upgrade: never reuse its revisions.
      const revision = Math.max(counter.revision, await this.lastLogged(trx));
      const tx = new RegistryWrite(trx, this, revision, counter.seq, this.ctx.now());
      const result = await fn(tx);
      if (tx.revision !== counter.revision)
        await trx.updateTable('registry_counter').set({ revision: tx.revision }).where('id', '=', 1).execute();
      // Heard by every replica once this commits: they re-read past their own position.
      await this.ctx.notify(REGISTRY_CHANNEL, String(counter.seq), trx);
      return result;
    });
  }

  private async lastLogged(db: Kysely<Database>): Promise<number> {
    const row = await db
      .selectFrom('registry_changes')
      .select((eb) => eb.fn.max('revision').as('max'))
      .executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  /** Where the shared records stand now (one row: cheap enough to poll). */
  async position(): Promise<RegistryPosition> {
    return this.ctx.read(async (db) => {
      const row = await db
        .selectFrom('registry_counter')
        .select(['revision', 'seq'])
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      return { revision: Math.max(Number(row.revision), await this.lastLogged(db)), seq: Number(row.seq) };
    });
  }

  /** Every entry and live lease, and the position they are at least as new as. */
  async loadAll(): Promise<EntriesWithLeases & RegistryPosition> {
    // Position first: what is read after it includes every write up to it.
    const position = await this.position();
    return this.ctx.read(async (db) => {
      const entries = (await db.selectFrom('registry_entries').selectAll().execute()).map((r) => this.toEntry(r));
      const leases = (await db.selectFrom('registry_leases').selectAll().execute()).map((r) => this.toLease(r));
      return { entries, leases, ...position };
    });
  }

  /**
   * Entries changed by writes after `seq`, and the entries named by `keys` (those of logged
   * changes: an older registry during an upgrade logs its changes but stamps no sequence),
   * each with all of its live leases.
   */
  async entriesChangedAfter(seq: number, keys: string[] = []): Promise<EntriesWithLeases> {
    return this.ctx.read(async (db) => {
      const rows = await db.selectFrom('registry_entries').selectAll().where('state_seq', '>', seq).execute();
      const seen = new Set(rows.map((r) => r.key));
      const named = [...new Set(keys)].filter((k) => !seen.has(k));
      for (let i = 0; i < named.length; i += CHUNK)
        rows.push(
          ...(await db
            .selectFrom('registry_entries')
            .selectAll()
            .where('key', 'in', named.slice(i, i + CHUNK))
            .execute()),
        );
      const entries = rows.map((r) => this.toEntry(r));
      return {
        entries,
        leases: await this.leasesOf(
          db,
          entries.map((e) => e.key),
        ),
      };
    });
  }

  /** The live leases of some entries. */
  async leasesOf(db: Kysely<Database>, keys: string[]): Promise<LeaseRecord[]> {
    const leases: LeaseRecord[] = [];
    for (let i = 0; i < keys.length; i += CHUNK) {
      const rows = await db
        .selectFrom('registry_leases')
        .selectAll()
        .where('entry_key', 'in', keys.slice(i, i + CHUNK))
        .execute();
      leases.push(...rows.map((r) => this.toLease(r)));
    }
    return leases;
  }

  /** A lease and the entry it belongs to, as stored now. */
  async leaseWithEntry(
    db: Kysely<Database>,
    leaseId: string,
  ): Promise<{ lease: LeaseRecord; entry: RegistryEntryRecord } | undefined> {
    const lease = await db.selectFrom('registry_leases').selectAll().where('lease_id', '=', leaseId).executeTakeFirst();
    if (!lease) return undefined;
    const entry = await db
      .selectFrom('registry_entries')
      .selectAll()
      .where('key', '=', lease.entry_key)
      .executeTakeFirstOrThrow();
    return { lease: this.toLease(lease), entry: this.toEntry(entry) };
  }

  /** A lease and its entry, read outside any write (heartbeats check the caller with it). */
  findLease(leaseId: string): Promise<{ lease: LeaseRecord; entry: RegistryEntryRecord } | undefined> {
    return this.ctx.read((db) => this.leaseWithEntry(db, leaseId));
  }

  /**
   * Extends a lease by the TTL granted at registration (`ttlMs`, as read with it), in the
   * database's clock; NOT_FOUND when it has ended. Not logged and not notified: expiry is
   * decided by the database, so no replica needs to hear of a renewal.
   */
  async renew(leaseId: string, ttlMs: number): Promise<Date> {
    const update = (trx: Kysely<Database>) =>
      trx
        .updateTable('registry_leases')
        .set({ expires_ms: sql<number>`${this.nowMs()} + ttl_ms`, expires_at: this.timeIn(ttlMs) })
        .where('lease_id', '=', leaseId)
        .returning('expires_ms')
        .executeTakeFirst();
    const row = await (this.renewals ? this.renewals.submit(update) : this.ctx.write(update));
    if (!row)
      throw new MeshError(Code.NOT_FOUND, `lease ${leaseId} not found (lapsed or deregistered): register again`);
    return new Date(Number(row.expires_ms));
  }

  /** True when some lease has lapsed by the database's clock (checked before taking the writers' lock). */
  async anyLapsed(): Promise<boolean> {
    const row = await this.ctx.read((db) =>
      db
        .selectFrom('registry_leases')
        .select('lease_id')
        .where((eb) => this.lapsed(eb))
        .limit(1)
        .executeTakeFirst(),
    );
    return row !== undefined;
  }

  /** Changes after a revision (up to `upTo` when given), oldest first. */
  async changesAfter(revision: number, limit = 1_000, upTo?: number): Promise<RegistryChange[]> {
    const rows = await this.ctx.read((db) => {
      let q = db.selectFrom('registry_changes').selectAll().where('revision', '>', revision);
      if (upTo !== undefined) q = q.where('revision', '<=', upTo);
      return q.orderBy('revision').limit(limit).execute();
    });
    return rows.map((r) => ({
      revision: Number(r.revision),
      change: r.change as RegistryChange['change'],
      entryKey: r.entry_key,
      entry: this.ctx.codec.json(r.entry),
      at: this.ctx.codec.time(r.at),
    }));
  }

  /** Appends changes with the revisions after `revision`; returns them. */
  async log(
    trx: Kysely<Database>,
    revision: number,
    changes: ChangeToLog[],
    principal: string,
    at: string,
  ): Promise<number[]> {
    const out: number[] = [];
    for (const c of changes) {
      revision++;
      await this.queries.insertChange.run(
        trx,
        revision,
        c.change,
        c.entryKey,
        encodeJson(c.entry, 'registry entry'),
        principal,
        at,
      );
      out.push(revision);
    }
    return out;
  }

  /** A stored entry row as a record. */
  toEntry(r: Selectable<RegistryEntriesTable>): RegistryEntryRecord {
    const { json, time } = this.ctx.codec;
    return {
      key: r.key,
      kind: r.kind as 'agent' | 'tool',
      name: r.name,
      version: r.version,
      card: json(r.card),
      lifecycle: r.lifecycle,
      identity: r.identity,
      revision: Number(r.revision),
      registeredAt: time(r.registered_at),
      updatedAt: time(r.updated_at),
    };
  }

  /** A stored lease row as a record. */
  toLease(r: Selectable<RegistryLeasesTable>): LeaseRecord {
    return {
      leaseId: r.lease_id,
      entryKey: r.entry_key,
      instanceId: r.instance_id,
      endpoint: this.ctx.codec.json(r.endpoint),
      expiresAt: r.expires_ms === null ? this.ctx.codec.time(r.expires_at) : new Date(Number(r.expires_ms)),
      ttlMs: r.ttl_ms,
    };
  }
}
