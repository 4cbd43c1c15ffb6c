import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditFile } from './audit.js';

describe('hash-chained audit trail', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-'));
    file = join(dir, 'audit.jsonl');
    const log = new AuditLog(file);
    // Appended without waiting in between: they share flushes, and the order is still the call order.
    await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        log.append({ kind: 'call', service: 's/t', method: `m${i}`, outcome: 'OK', subject: 'alice' }),
      ),
    );
    await log.close();
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).method),
    ).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lines = () => readFileSync(file, 'utf8').trim().split('\n');
  const save = (l: string[]) => writeFileSync(file, l.join('\n') + '\n');

  test('an untouched chain verifies, also after reopening and appending', async () => {
    const log = new AuditLog(file);
    await log.append({ kind: 'task_state', service: 's/t', outcome: 'OK', task_id: 't1' });
    await log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 6 });
  });

  test('a record torn by a crash (never acknowledged) is dropped on reopening, the repair is recorded, and the chain verifies', async () => {
    writeFileSync(file, readFileSync(file, 'utf8') + '{"kind":"call","service":"s/t","seq":6,"ti');
    const log = new AuditLog(file);
    expect(log.repairedBytes).toBe(42);
    await log.append({ kind: 'call', service: 's/t', outcome: 'OK' });
    await log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 7 });
    expect(JSON.parse(lines()[5]!)).toMatchObject({
      kind: 'audit_recovered',
      seq: 6,
      reason: expect.stringContaining('dropped 42 bytes'),
    });
  });

  test('a complete last line that is not a record is refused rather than chained onto, and the file is left as it was', () => {
    save([...lines(), 'not a record']);
    writeFileSync(file, readFileSync(file, 'utf8') + '{"torn');
    const before = readFileSync(file);
    expect(() => new AuditLog(file)).toThrow('its last record (line 6) is not valid JSON');
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test('the torn bytes are cut exactly also after multi-byte characters', async () => {
    const log = new AuditLog(file);
    await log.append({ kind: 'call', service: 's/t', outcome: 'OK', reason: 'Zürich — 東京' });
    await log.close();
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('{"kind":"call","reason":"Zü')]));
    const reopened = new AuditLog(file);
    expect(reopened.repairedBytes).toBe(Buffer.byteLength('{"kind":"call","reason":"Zü'));
    await reopened.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 7 });
  });

  test('a modified record is named', () => {
    const l = lines();
    l[2] = l[2]!.replace('"alice"', '"mallory"');
    save(l);
    expect(verifyAuditFile(file).firstBad).toEqual({ line: 3, seq: 3, problem: 'record was modified (hash mismatch)' });
  });

  test('a deleted record is named (the one after the gap)', () => {
    const l = lines();
    l.splice(1, 1);
    save(l);
    expect(verifyAuditFile(file).firstBad).toMatchObject({
      line: 2,
      seq: 3,
      problem: expect.stringContaining('chain broken'),
    });
  });

  test('swapped records are named', () => {
    const l = lines();
    [l[3], l[4]] = [l[4]!, l[3]!];
    save(l);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, firstBad: { line: 4, seq: 5 } });
  });

  test('personal data is redacted before it is written', async () => {
    const log = new AuditLog(file);
    await log.append({ kind: 'tool_invocation', service: 's/t', outcome: 'OK', reason: 'customer jane@example.com' });
    await log.close();
    expect(readFileSync(file, 'utf8')).not.toContain('jane@example.com');
    expect(verifyAuditFile(file).ok).toBe(true);
  });

  test('task and trace ids are kept as they are, even where their digits look like a phone number', async () => {
    const log = new AuditLog(file);
    const ids = { task_id: 'e94a6b63-5559-4760-b081-c8db7e55a8c9', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' };
    await log.append({
      kind: 'task_state',
      service: 's/t',
      outcome: 'COMPLETED',
      ...ids,
      reason: 'call 020-7946-0018',
    });
    await log.close();
    expect(JSON.parse(lines().at(-1)!)).toMatchObject({ ...ids, reason: 'call [PHONE]' });
    expect(verifyAuditFile(file).ok).toBe(true);
  });

  test('a task id in any other form (a caller chose it) is redacted like all text', async () => {
    const log = new AuditLog(file);
    await log.append({ kind: 'call', service: 's/t', outcome: 'NOT_FOUND', task_id: 'jane@example.com' });
    await log.close();
    expect(JSON.parse(lines().at(-1)!)).toMatchObject({ task_id: '[EMAIL]' });
  });
});

describe('records nobody waits for (the opt-in audit window)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-window-'));
    file = join(dir, 'audit.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Only complete lines: polled while a flush may be writing, the file can end in part of a record.
  const methods = () =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .slice(0, -1)
          .map((l) => JSON.parse(l).method)
      : [];
  const event = (method: string) => ({ kind: 'call', service: 's/t', method, outcome: 'OK', subject: 'alice' });

  test('wait for their window; an append flushes them first, in call order; close() flushes the rest', async () => {
    const log = new AuditLog(file, { windowMs: 3_600_000 });
    log.record(event('read1'));
    log.record(event('read2'));
    expect(methods()).toEqual([]);
    await log.append(event('write'));
    expect(methods()).toEqual(['read1', 'read2', 'write']);
    log.record(event('read3'));
    expect(methods()).toEqual(['read1', 'read2', 'write']);
    await log.close();
    expect(methods()).toEqual(['read1', 'read2', 'write', 'read3']);
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 4 });
  });

  test('are written once their window has passed, many in one flush', async () => {
    const log = new AuditLog(file, { windowMs: 20 });
    for (let i = 0; i < 50; i++) log.record(event(`read${i}`));
    while (methods().length < 50) await new Promise((r) => setImmediate(r));
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 50 });
    await log.close();
  });

  test('after close(), nothing is written (the descriptor may name another file by then): an append is refused, a record reported', async () => {
    const unwritten: number[] = [];
    const log = new AuditLog(file, { windowMs: 5, onUnwritten: (n) => unwritten.push(n) });
    await log.append(event('before'));
    await log.close();
    // The next file opened takes the freed descriptor number.
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'unrelated\n');
    await expect(log.append(event('late-write'))).rejects.toThrow(/is closed/);
    log.record(event('late-read'));
    expect(unwritten).toEqual([1]);
    expect(methods()).toEqual(['before']);
    expect(readFileSync(other, 'utf8')).toBe('unrelated\n');
  });

  test('without a window they are flushed at once, as appends are', async () => {
    const log = new AuditLog(file);
    log.record(event('read'));
    while (methods().length < 1) await new Promise((r) => setImmediate(r));
    await log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 1 });
  });
});
