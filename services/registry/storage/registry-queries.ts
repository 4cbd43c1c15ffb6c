import { sql, type RawBuilder, type Selectable } from 'kysely';
import { Prepared } from './prepared.js';
import type { RegistryDatabase as Database, RegistryEntriesTable, RegistryLeasesTable } from './registry-tables.js';

/** The store's clock expressions (see StoreContext): the lease insert's expiry is written in them. */
export interface RegistryClock {
  nowMs(): RawBuilder<number>;
  timeIn(ms: number): RawBuilder<string>;
}

type LeaseExpiry = Pick<Selectable<RegistryLeasesTable>, 'expires_ms'>;

// Lease TTLs compiled at once: a mesh uses a few (the clamped defaults); more is still correct, it only compiles again.
const MAX_LEASE_TTLS = 32;

/** The statements every registration runs, compiled once per store (see Prepared). */
export function registryQueries(clock: RegistryClock) {
  const leaseInserts = new Map<number, Prepared<Database, LeaseExpiry>>();
  return {
    /** Every version of a name: $0 name. */
    entriesNamed: new Prepared<Database, Selectable<RegistryEntriesTable>>((db, $) =>
      db.selectFrom('registry_entries').selectAll().where('name', '=', $(0)),
    ),
    /** The live leases of one entry: $0 entry key. */
    leasesOfEntry: new Prepared<Database, Selectable<RegistryLeasesTable>>((db, $) =>
      db.selectFrom('registry_leases').selectAll().where('entry_key', '=', $(0)),
    ),
    /** $0 revision, $1 change, $2 entry key, $3 entry JSON, $4 principal, $5 at. */
    insertChange: new Prepared<Database, unknown>((db, $) =>
      db
        .insertInto('registry_changes')
        .values({ revision: $(0), change: $(1), entry_key: $(2), entry: $(3), principal: $(4), at: $(5) }),
    ),
    /** $0 key, $1 kind, $2 name, $3 version, $4 card JSON, $5 identity, $6 revision, $7 at, $8 principal, $9 seq. */
    insertEntry: new Prepared<Database, unknown>((db, $) =>
      db.insertInto('registry_entries').values({
        key: $(0),
        kind: $(1),
        name: $(2),
        version: $(3),
        card: $(4),
        identity: $(5),
        lifecycle: 'ACTIVE',
        revision: $(6),
        registered_at: $(7),
        updated_at: $(7),
        updated_by: $(8),
        state_seq: $(9),
      }),
    ),
    /** $0 key, $1 card JSON, $2 revision, $3 at, $4 principal, $5 seq. */
    updateCard: new Prepared<Database, unknown>((db, $) =>
      db
        .updateTable('registry_entries')
        .set({ card: $(1), revision: $(2), updated_at: $(3), updated_by: $(4), state_seq: $(5) })
        .where('key', '=', $(0)),
    ),
    /** An instance's previous lease: $0 entry key, $1 instance id. */
    deleteInstanceLease: new Prepared<Database, unknown>((db, $) =>
      db.deleteFrom('registry_leases').where('entry_key', '=', $(0)).where('instance_id', '=', $(1)),
    ),
    /**
     * A lease, returning its expiry in ms: $0 lease id, $1 entry key, $2 instance id, $3 endpoint
     * JSON, $4 at. Its expiry is the dialect's own expression of the TTL (SQLite takes it as text),
     * so each TTL has its own statement.
     */
    insertLease(ttlMs: number): Prepared<Database, LeaseExpiry> {
      let prepared = leaseInserts.get(ttlMs);
      if (!prepared) {
        if (leaseInserts.size >= MAX_LEASE_TTLS) leaseInserts.delete(leaseInserts.keys().next().value!);
        prepared = new Prepared((db, $) =>
          db
            .insertInto('registry_leases')
            .values({
              lease_id: $(0),
              entry_key: $(1),
              instance_id: $(2),
              endpoint: $(3),
              expires_at: clock.timeIn(ttlMs),
              expires_ms: sql<number>`${clock.nowMs()} + ${ttlMs}`,
              ttl_ms: ttlMs,
              registered_at: $(4),
            })
            .returning('expires_ms'),
        );
        leaseInserts.set(ttlMs, prepared);
      }
      return prepared;
    },
  };
}
