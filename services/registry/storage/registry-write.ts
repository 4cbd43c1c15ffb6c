import { sql, type Kysely } from 'kysely';
import { encodeJson } from '../../../mesh/index.js';
import type { ChangeToLog, LeaseRecord, RegistryEntryRecord, RegistryRecords } from './registry-records.js';
import type { RegistryDatabase as Database } from './registry-tables.js';

/** Runs fn in a savepoint of an open transaction: when fn fails, what it changed is undone and the transaction goes on. */
export async function inSavepoint<DB, T>(trx: Kysely<DB>, fn: () => Promise<T>): Promise<T> {
  await sql`savepoint registry_write`.execute(trx);
  try {
    const result = await fn();
    await sql`release savepoint registry_write`.execute(trx);
    return result;
  } catch (err) {
    await sql`rollback to savepoint registry_write`.execute(trx);
    await sql`release savepoint registry_write`.execute(trx);
    throw err;
  }
}

/** An entry as stored inside a write, with its live leases by id. */
export interface StoredEntry {
  record: RegistryEntryRecord;
  leases: Map<string, LeaseRecord>;
}

/**
 * One registry write, inside the transaction that holds the counter row: it reads the
 * current shared state (no other writer can change it meanwhile), changes it, and logs
 * the changes with the next revisions. Every entry it changes gets this write's sequence
 * number, which is how the other replicas find what to re-read.
 */
export class RegistryWrite {
  /** How many changing statements this write has issued (a failure after one needs a savepoint to be undone alone). */
  changes = 0;

  constructor(
    private readonly trx: Kysely<Database>,
    private readonly records: RegistryRecords,
    /** The last revision logged, including this write's changes so far. */
    public revision: number,
    /** This write's sequence number. */
    readonly seq: number,
    /** The time stamped on rows this write makes. */
    readonly at: string,
  ) {}

  /** Entries with all of their live leases, as stored now. */
  async entries(filter: { key: string } | { name: string; version?: string }): Promise<StoredEntry[]> {
    let rows;
    if ('name' in filter && !filter.version)
      rows = (await this.records.queries.entriesNamed.run(this.trx, filter.name)).rows;
    else {
      let q = this.trx.selectFrom('registry_entries').selectAll();
      if ('key' in filter) q = q.where('key', '=', filter.key);
      else q = q.where('name', '=', filter.name).where('version', '=', filter.version!);
      rows = await q.execute();
    }
    const records = rows.map((r) => this.records.toEntry(r));
    const leases =
      records.length === 1
        ? (await this.records.queries.leasesOfEntry.run(this.trx, records[0]!.key)).rows.map((r) =>
            this.records.toLease(r),
          )
        : await this.records.leasesOf(
            this.trx,
            records.map((r) => r.key),
          );
    return records.map((record) => ({
      record,
      leases: new Map(leases.filter((l) => l.entryKey === record.key).map((l) => [l.leaseId, l])),
    }));
  }

  /**
   * Runs one write of a batch in a savepoint: when it fails, what it changed (and the revisions
   * it took) is undone and the batch's other writes go on.
   */
  async isolated<T>(write: (tx: RegistryWrite) => Promise<T>): Promise<T> {
    const revision = this.revision;
    try {
      return await inSavepoint(this.trx, () => write(this));
    } catch (err) {
      this.revision = revision;
      throw err;
    }
  }

  /** A lease and its entry, as stored now. */
  leaseWithEntry(leaseId: string) {
    return this.records.leaseWithEntry(this.trx, leaseId);
  }

  /** Appends changes with the next revisions; returns them. */
  async log(changes: ChangeToLog[], principal: string): Promise<number[]> {
    if (changes.length) this.changes++;
    const revisions = await this.records.log(this.trx, this.revision, changes, principal, this.at);
    this.revision = revisions.at(-1) ?? this.revision;
    return revisions;
  }

  /** Inserts an entry or replaces its card (its lifecycle and identity stay). */
  async putEntry(
    entry: { key: string; kind: 'agent' | 'tool'; name: string; version: string; card: unknown; identity: string },
    exists: boolean,
    revision: number,
    principal: string,
  ): Promise<void> {
    const card = encodeJson(entry.card, 'card');
    this.changes++;
    const { queries } = this.records;
    if (exists) await queries.updateCard.run(this.trx, entry.key, card, revision, this.at, principal, this.seq);
    else
      await queries.insertEntry.run(
        this.trx,
        entry.key,
        entry.kind,
        entry.name,
        entry.version,
        card,
        entry.identity,
        revision,
        this.at,
        principal,
        this.seq,
      );
  }

  /**
   * Grants an instance's lease, replacing that instance's previous one (`replaces`: it has one,
   * as read in this write; a new instance skips the delete); returns its expiry in the database's clock.
   */
  async grantLease(
    lease: { leaseId: string; entryKey: string; instanceId: string; endpoint: unknown; ttlMs: number },
    replaces: boolean,
  ): Promise<Date> {
    this.changes++;
    if (replaces) await this.records.queries.deleteInstanceLease.run(this.trx, lease.entryKey, lease.instanceId);
    const { rows } = await this.records.queries
      .insertLease(lease.ttlMs)
      .run(this.trx, lease.leaseId, lease.entryKey, lease.instanceId, encodeJson(lease.endpoint, 'endpoint'), this.at);
    const row = rows[0];
    if (!row) throw new Error('registry_leases: the insert returned no row');
    return new Date(Number(row.expires_ms));
  }

  /** Ends leases by id; returns those that were still live. */
  async endLeases(leaseIds: string[]): Promise<LeaseRecord[]> {
    if (!leaseIds.length) return [];
    this.changes++;
    const rows = await this.trx
      .deleteFrom('registry_leases')
      .where('lease_id', 'in', leaseIds)
      .returningAll()
      .execute();
    return rows.map((r) => this.records.toLease(r));
  }

  /** Ends every lease that has lapsed by the database's clock; returns them. */
  async endLapsedLeases(): Promise<LeaseRecord[]> {
    this.changes++;
    const rows = await this.trx
      .deleteFrom('registry_leases')
      .where((eb) => this.records.lapsed(eb))
      .returningAll()
      .execute();
    return rows.map((r) => this.records.toLease(r));
  }

  /** Sets the lifecycle of entries, stamping `revision` on them. */
  async setLifecycle(keys: string[], lifecycle: string, revision: number, principal: string): Promise<void> {
    this.changes++;
    await this.trx
      .updateTable('registry_entries')
      .set({ lifecycle, updated_at: this.at, updated_by: principal, revision, state_seq: this.seq })
      .where('key', 'in', keys)
      .execute();
  }

  /** Marks entries as changed by this write (their leases changed), so followers re-read them. */
  async touch(keys: string[]): Promise<void> {
    if (!keys.length) return;
    this.changes++;
    await this.trx.updateTable('registry_entries').set({ state_seq: this.seq }).where('key', 'in', keys).execute();
  }
}
