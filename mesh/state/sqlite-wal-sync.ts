import { closeSync, fdatasync, fsyncSync, openSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Makes the WAL durable (fdatasync, off the event loop): with it, SQLite runs at synchronous=NORMAL
 * (a COMMIT writes the WAL without waiting for the disk) and the driver answers a transaction only
 * after a sync that began after its COMMIT returned.
 */
export interface WalSync {
  sync(): Promise<void>;
  close(): void;
}

/**
 * fdatasync of a database's WAL file in libuv's thread pool, so that a COMMIT's wait for the disk
 * no longer blocks the event loop (better-sqlite3 runs SQLite on it). Opened at the first sync,
 * when the WAL exists, next to the database file's real path (SQLite resolves a symlinked file
 * the same way); its folder is fsynced then, once, so that the file's name is as durable as its
 * content (SQLite at synchronous=FULL does the same on its first sync, and like SQLite a folder
 * that cannot be fsynced (some network filesystems) is not an error). The WAL stays the same file
 * while the store's connection is open (SQLite resets it in place).
 */
export function walSync(databaseFile: string): WalSync {
  let fd: number | undefined;
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        if (fd === undefined) {
          const real = realpathSync(databaseFile);
          fsyncFolder(dirname(real));
          fd = openSync(`${real}-wal`, 'r');
        }
        fdatasync(fd, (err) => (err ? reject(err) : resolve()));
      }),
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

function fsyncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // As SQLite's unixSync: the folder's sync is best effort, the WAL's own sync is what counts.
  }
}

/**
 * Closes a WAL-mode connection without the checkpoint SQLite runs when the last connection to a
 * file closes: after a failed WAL sync that checkpoint would copy frames that may never have
 * reached the disk into the database file. A second, read-only connection holds a read
 * transaction meanwhile (SQLite checkpoints on close only when it gets the file's exclusive
 * lock), and being read-only it cannot checkpoint when it closes in turn. The WAL is left as it
 * is: the next open recovers from what is actually on disk. False when the connection could not
 * be closed (a statement is being iterated): try again later.
 */
export function closeWithoutCheckpoint(sqlite: Database.Database): boolean {
  if (!sqlite.open) return true;
  let guard: Database.Database;
  try {
    guard = new Database(sqlite.name, { readonly: true, fileMustExist: true });
  } catch {
    return false;
  }
  try {
    guard.exec('begin');
    guard.prepare('select count(*) from sqlite_schema').get();
    sqlite.close();
    return true;
  } catch {
    return false;
  } finally {
    guard.close();
  }
}
