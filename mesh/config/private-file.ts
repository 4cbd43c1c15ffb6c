import { chmodSync, renameSync, writeFileSync } from 'node:fs';

/** Writes a file readable by this user only, atomically (readers never see half a key or secret). */
export function writePrivateFile(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
}
