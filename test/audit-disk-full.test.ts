import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditFile, type AuditRecord } from '../mesh/index.js';

// A full disk is the audit trail's likeliest failed write. A real one: a 64 KiB tmpfs (mounting
// needs root, as the dev and CI machines run the suite). The failed records must leave no trace:
// the chain goes on from the last durable record and the whole file still verifies.

describe('audit trail on a full disk', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  });
  afterAll(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fills the file system to the last byte; returns the filler file. */
  function fill(): string {
    const filler = join(dir, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(512, 0x61);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      // Then byte by byte: no room left at all.
      try {
        for (;;) writeSync(fd, chunk, 0, 1);
      } catch {
        // full
      }
    } finally {
      closeSync(fd);
    }
    return filler;
  }

  test('failed appends are refused and cut; once there is room the chain goes on and verifies', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = new AuditLog(file);
    const acknowledged: AuditRecord[] = [];
    const event = (i: number) => ({
      kind: 'call',
      service: 'lending/x',
      method: `m${i}`,
      outcome: 'OK',
      subject: 'ada',
    });
    for (let i = 1; i <= 3; i++) acknowledged.push(await log.append(event(i)));

    const filler = fill();
    // Appends fit into the file's last page until it is full; then they fail (some half written).
    const refused: unknown[] = [];
    for (let i = 4; i < 200 && refused.length < 3; i++) {
      await log.append(event(i)).then(
        (r) => acknowledged.push(r),
        (err: unknown) => refused.push(err),
      );
    }
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({ code: 'ENOSPC' });
    // Nothing of a refused record stays in the file: it verifies, and holds exactly what was acknowledged.
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: acknowledged.length });

    rmSync(filler);
    const after = await log.append(event(1000));
    expect(after.seq).toBe(acknowledged.length + 1);
    await log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: acknowledged.length + 1 });
    const methods = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as AuditRecord).method);
    expect(methods).toEqual([...acknowledged.map((r) => r.method), 'm1000']);
  });

  test('records nobody waited for (the audit window) that a failed write refused are reported, and the chain goes on', async () => {
    const file = join(dir, 'audit-window.jsonl');
    const unwritten: [number, unknown][] = [];
    const log = new AuditLog(file, { windowMs: 3_600_000, onUnwritten: (n, err) => unwritten.push([n, err]) });
    const event = (method: string) => ({ kind: 'call', service: 'lending/x', method, outcome: 'OK' });
    await log.append(event('before'));
    const filler = fill();
    // Records until the file's last page is full: the append that flushes them fails with them.
    let refused: unknown;
    for (let i = 0; i < 200 && !refused; i++) {
      log.record(event(`read${i}`));
      log.record(event(`read${i}b`));
      await log.append(event(`write${i}`)).catch((err: unknown) => (refused = err));
    }
    expect(refused).toMatchObject({ code: 'ENOSPC' });
    expect(unwritten).toEqual([[2, refused]]);
    rmSync(filler);
    await log.append(event('after'));
    await log.close();
    const verified = verifyAuditFile(file);
    expect(verified.ok).toBe(true);
    const methods = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as AuditRecord).method);
    expect(methods.at(-1)).toBe('after');
    expect(methods).toHaveLength(verified.records);
  });
});
