import type { ColumnType, RawBuilder } from 'kysely';
import type { JsonColumn, TimeColumn } from '../../../mesh/index.js';

// The registry's own tables in its store (created by the store's migrations 0002_registry
// and 0004_registry_replicas).

/** Registry entries: one per kind:name@version, the card and its lifecycle. */
export interface RegistryEntriesTable {
  key: string;
  kind: string;
  name: string;
  version: string;
  card: JsonColumn;
  lifecycle: string;
  /** The SPIFFE ID that owns the entry. */
  identity: string;
  revision: number;
  registered_at: TimeColumn;
  updated_at: TimeColumn;
  updated_by: string;
  /** The registry write that last changed the entry or its leases: followers re-read entries past theirs. */
  state_seq: number;
}

/** Live instances of registry entries; a row disappears when its lease ends. */
export interface RegistryLeasesTable {
  lease_id: string;
  entry_key: string;
  instance_id: string;
  endpoint: JsonColumn;
  /** Expiry as a time (for people and older registries); sweeping uses expires_ms. */
  expires_at: ColumnType<unknown, string | RawBuilder<string>, string | RawBuilder<string>>;
  /** Expiry in the database's clock (epoch ms; bigint, a string on PostgreSQL); sweeping compares it with that clock. */
  expires_ms: ColumnType<number | string | null, number, number>;
  /** The lease length granted at registration: heartbeats renew by it, also after a registry restart. */
  ttl_ms: number;
  registered_at: TimeColumn;
}

/** The registry's ordered change log (Watch replays it from a revision). */
export interface RegistryChangesTable {
  revision: number;
  change: string;
  entry_key: string;
  entry: JsonColumn;
  principal: string;
  at: TimeColumn;
}

/**
 * One row (id 1): the last revision and the last write sequence. Every registry write
 * locks it first, so writers are serialised across replicas and commit in revision order.
 */
export interface RegistryCounterTable {
  id: number;
  revision: number;
  seq: number;
}

/** The registry's tables as Kysely sees them. */
export interface RegistryDatabase {
  registry_entries: RegistryEntriesTable;
  registry_leases: RegistryLeasesTable;
  registry_changes: RegistryChangesTable;
  registry_counter: RegistryCounterTable;
}
