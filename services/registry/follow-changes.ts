/** How often a replica looks for other replicas' writes when it has no change notices. */
export const POLL_MS = 200;

/**
 * Calls `catchUp` whenever another replica may have written to the shared records.
 * Each call re-reads everything past the replica's own position, so a missed or
 * repeated wake-up costs one cheap read and loses nothing. Returns the stop function.
 */
export function followChanges(catchUp: () => Promise<void>, pollMs = POLL_MS): () => void {
  const timer = setInterval(() => void catchUp(), pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
