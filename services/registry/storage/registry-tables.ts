import type { JsonColumn, TimeColumn } from '../../../mesh/index.js';

// The registry's own tables in its store (created by the store's released migration 0002_registry).

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
}

/** Live instances of registry entries; a row disappears when its lease ends. */
export interface RegistryLeasesTable {
  lease_id: string;
  entry_key: string;
  instance_id: string;
  endpoint: JsonColumn;
  expires_at: TimeColumn;
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

/** The registry's tables as Kysely sees them. */
export interface RegistryDatabase {
  registry_entries: RegistryEntriesTable;
  registry_leases: RegistryLeasesTable;
  registry_changes: RegistryChangesTable;
}
