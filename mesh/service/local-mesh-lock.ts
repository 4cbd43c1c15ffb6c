import { closeSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { processAlive } from '../config/index.js';

// A sleep that handles no events: the exit handler holds the lock too, and it cannot await.
const pause = new Int32Array(new SharedArrayBuffer(4));

function holderOf(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    // Empty while its holder is between creating and writing it: treated as held.
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `update` holding `<file>.lock`, an exclusive lock between the processes that
 * read-modify-write the same file (agents joining, leaving and the launcher's mesh files):
 * created with O_EXCL and holding the holder's pid; a lock whose process is gone is stale
 * and taken over. Gives up with one line naming the lock after `timeoutMs`.
 */
export function withFileLock<T>(file: string, update: () => T, timeoutMs = 10_000): T {
  const lock = `${file}.lock`;
  let waited = 0;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return update();
      } finally {
        unlinkSync(lock);
      }
    }
    const holder = holderOf(lock);
    if (holder !== undefined && !processAlive(holder)) {
      // Checked again just before: another waiter may have taken it over already.
      if (holderOf(lock) === holder) rmSync(lock, { force: true });
      continue;
    }
    if (waited >= timeoutMs)
      throw new Error(
        `cannot lock ${file}: ${lock} is held by pid ${holder ?? '(unknown)'}; remove it if that is stale`,
      );
    Atomics.wait(pause, 0, 0, delay);
    waited += delay;
  }
}
