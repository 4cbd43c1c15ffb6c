import type { Store } from '../../mesh/index.js';
import { REGISTRY_CHANNEL } from './storage/registry-records.js';

/**
 * Calls `catchUp` whenever a registry write commits, on this replica or another
 * (the store's change notices: LISTEN/NOTIFY on PostgreSQL), and when notices may
 * have been lost (a reconnect). Each call re-reads everything past the replica's own
 * position, so a missed, late or repeated notice costs one cheap read and loses
 * nothing. Resolves once notices committed from now on will be heard; returns the
 * stop function.
 */
export function followChanges(store: Store, catchUp: () => Promise<void>): Promise<() => void> {
  return store.notices.listen(REGISTRY_CHANNEL, () => void catchUp());
}
