import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../../mesh/index.js';
import { ClientDirectory, parseClients } from './clients.js';

const digest = (content: string) => createHash('sha256').update(content).digest('hex');

const readOrUndefined = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * Re-reads the clients file whenever its content changes, so a client
 * registered while the server runs (a standalone agent joining the local mesh,
 * see docs/standalone-agents.md) gets tokens without a restart. The content is
 * compared, not the modification time: two replacements within one timestamp
 * tick (same size, same mtime) are both seen. A file that does not parse is
 * refused as a whole and the current list stays in force; it is looked at again
 * on every tick, so a partial write followed by the final one takes the final
 * one. `loaded` is the text `clients` was built from; without it the first tick
 * loads the file. Returns the function that stops watching.
 */
export function watchClientsFile(
  file: string,
  clients: ClientDirectory,
  log: Logger,
  intervalMs = 250,
  loaded?: string,
): () => void {
  let current = loaded === undefined ? undefined : digest(loaded);
  // The last content refused: logged once, not on every tick it stays there.
  let refused: string | undefined;
  const check = () => {
    const content = readOrUndefined(file);
    if (content === undefined) return;
    const hash = digest(content);
    if (hash === current || hash === refused) return;
    try {
      const list = parseClients(JSON.parse(content));
      clients.replace(list);
      current = hash;
      refused = undefined;
      log.info({ clients: list.length }, 'clients file reloaded');
    } catch (err) {
      refused = hash;
      log.error({ err: (err as Error).message }, 'clients file not reloaded; keeping the current list');
    }
  };
  // Unreferenced: watching alone must not keep the process alive.
  const timer = setInterval(check, intervalMs).unref();
  return () => clearInterval(timer);
}

/**
 * Reads the clients file and keeps following it. The watcher's starting point
 * is the very text the list was built from, so a write between this read and
 * the first check is loaded too. Throws when the file is missing or invalid.
 */
export function loadClientsFile(
  file: string,
  log: Logger,
  intervalMs?: number,
): { clients: ClientDirectory; stop: () => void } {
  const content = readFileSync(file, 'utf8');
  const clients = new ClientDirectory(parseClients(JSON.parse(content)));
  return { clients, stop: watchClientsFile(file, clients, log, intervalMs, content) };
}
