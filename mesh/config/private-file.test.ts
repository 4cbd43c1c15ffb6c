import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePrivateFile } from './private-file.js';

describe('writePrivateFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'private-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('replaces a world-readable file with one only its owner reads, leaving no temporary file', () => {
    const file = join(dir, 'secrets.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    writePrivateFile(file, '{"k":"v"}');
    expect(readFileSync(file, 'utf8')).toBe('{"k":"v"}');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['secrets.json']);
  });
});
