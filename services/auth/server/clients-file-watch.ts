import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../../../mesh/index.js';
import { parseClients, type ClientDirectory } from './clients.js';

/**
 * Re-reads the clients file whenever its modification time changes, so a
 * client registered while the server runs (a standalone agent joining the
 * local mesh, see docs/standalone-agents.md) gets tokens without a restart.
 * A file that does not parse is refused as a whole and the current list stays
 * in force. The time is taken before this returns, so no change made after
 * the call is missed. Returns the function that stops watching.
 */
export function watchClientsFile(file: string, clients: ClientDirectory, log: Logger, intervalMs = 250): () => void {
  const mtime = () => {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return undefined;
    }
  };
  let seen = mtime();
  const check = () => {
    const now = mtime();
    if (now === seen) return;
    seen = now;
    try {
      const list = parseClients(JSON.parse(readFileSync(file, 'utf8')));
      clients.replace(list);
      log.info({ clients: list.length }, 'clients file reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'clients file not reloaded; keeping the current list');
    }
  };
  // Unreferenced: watching alone must not keep the process alive.
  const timer = setInterval(check, intervalMs).unref();
  return () => clearInterval(timer);
}
