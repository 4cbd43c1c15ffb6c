import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../../mesh/index.js';
import { parseClients, type ClientDirectory } from './clients.js';

/**
 * Re-reads the clients file whenever it changes, so a client registered while
 * the server runs (a standalone agent joining the local mesh, see
 * docs/standalone-agents.md) gets tokens without a restart. A file that does
 * not parse is refused as a whole and the current list stays in force.
 * Returns the function that stops watching.
 */
export function watchClientsFile(file: string, clients: ClientDirectory, log: Logger, intervalMs = 250): () => void {
  const onChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (now.mtimeMs === before.mtimeMs) return;
    try {
      const list = parseClients(JSON.parse(readFileSync(file, 'utf8')));
      clients.replace(list);
      log.info({ clients: list.length }, 'clients file reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'clients file not reloaded; keeping the current list');
    }
  };
  // Not persistent: watching alone must not keep the process alive.
  watchFile(file, { persistent: false, interval: intervalMs }, onChange);
  return () => unwatchFile(file, onChange);
}
