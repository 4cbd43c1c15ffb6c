import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { WalSync } from './sqlite-group-commit.js';

/**
 * fdatasync of a database's WAL file (`<file>-wal`) in libuv's thread pool, so that a COMMIT's
 * wait for the disk no longer blocks the event loop (better-sqlite3 runs SQLite on it). Opened at
 * the first sync, when the WAL exists: its folder is fsynced then, once, so that the file's name
 * is as durable as its content (SQLite at synchronous=FULL does the same on its first sync).
 * The WAL stays the same file while the store's connection is open (SQLite resets it in place).
 */
export function walSync(databaseFile: string): WalSync {
  let fd: number | undefined;
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        if (fd === undefined) {
          const dir = openSync(dirname(databaseFile), 'r');
          try {
            fsyncSync(dir);
          } finally {
            closeSync(dir);
          }
          fd = openSync(`${databaseFile}-wal`, 'r');
        }
        fdatasync(fd, (err) => (err ? reject(err) : resolve()));
      }),
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
