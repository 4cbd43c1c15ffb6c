import {
  closeSync,
  constants,
  existsSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  truncateSync,
  write,
  writeSync,
} from 'node:fs';
import { promisify } from 'node:util';
import { sealRecord, type AuditEvent, type AuditRecord } from './audit-record.js';

export { verifyAuditFile } from './audit-record.js';
export type { AuditEvent, AuditRecord, AuditVerification } from './audit-record.js';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
// Where the platform has it (Linux, macOS), the file is opened with O_DSYNC: a write returns once
// its data is on disk, so a group commit is one call to the thread pool, not a write and then an
// fdatasync (each a thread-pool round trip and a callback on the event loop).
const { O_APPEND, O_CREAT, O_WRONLY, O_DSYNC } = constants;

/** Options of an AuditLog. */
export interface AuditLogOptions {
  /**
   * Longest wait, in milliseconds, before a record given to `record()` (not
   * awaited) is written and flushed (default 0: at once, like `append()`).
   * Records share that flush, so many cost one durable write.
   */
  windowMs?: number;
  /** Told when the write of records nobody awaited failed: they are not in the trail (the log is the place to say so). */
  onUnwritten?: (count: number, err: Error) => void;
}

type Pending = { event: AuditEvent; done?: (err?: Error, record?: AuditRecord) => void };

/**
 * An append-only, hash-chained audit trail in a JSON-lines file. append()
 * resolves only once its record is written and flushed to disk (O_DSYNC, or fdatasync),
 * so an acknowledged record is never lost in a buffer. Records that arrive
 * while a flush is in progress share the next one (group commit), and the
 * disk wait happens off the event loop. Personal data is redacted.
 *
 * record() is the opt-in exception (AuditLogOptions.windowMs): its record
 * waits up to the window for a flush it shares with others, nobody waits for
 * it, and close() flushes it; only a crash within the window loses it.
 *
 * A record joins the chain when its write is flushed, not before: a write
 * that fails (a full disk) is cut from the file and its records leave no
 * trace in the chain, so the next append links onto the last durable record
 * and the trail still verifies. Only if the cut itself fails does the log
 * refuse every later append (the service restarts and repairs on opening).
 */
export class AuditLog {
  private readonly fd: number;
  private seq = 0;
  private prev = '';
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  // Bytes of the file that hold durable records: a failed write is cut back to it.
  private durable = 0;
  private broken: Error | undefined;

  /** Bytes of a record torn by a crash that the constructor dropped (0: none). */
  readonly repairedBytes: number;
  /** Longest wait of a record() before its flush starts, ms (0: at once). */
  readonly windowMs: number;

  constructor(
    readonly file: string,
    private readonly options: AuditLogOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 0;
    let torn = 0;
    if (existsSync(file)) {
      // Continue the existing chain. A crash can leave the last write half done: those records
      // were never acknowledged as durable (append() resolves only once its record is flushed; a
      // record() within its window may be lost whole or torn alike), so the torn bytes go, and a
      // record says so. A complete last line that is not a record is not a crash: refuse to chain
      // onto it (and touch nothing). Bytes, not text: a newline byte never occurs inside a
      // multi-byte UTF-8 character, so the cut is exact whatever the file holds.
      const bytes = readFileSync(file);
      const end = bytes.lastIndexOf(0x0a) + 1;
      const lines = bytes.subarray(0, end).toString('utf8').split('\n').filter(Boolean);
      const last = lines.at(-1);
      if (last) {
        let record: AuditRecord;
        try {
          record = JSON.parse(last) as AuditRecord;
        } catch {
          throw new Error(
            `audit trail ${file}: its last record (line ${lines.length}) is not valid JSON; verify it (agentmesh audit verify) before appending`,
          );
        }
        this.seq = record.seq;
        this.prev = record.hash;
      }
      if (end < bytes.length) {
        truncateSync(file, end);
        torn = bytes.length - end;
      }
    }
    this.repairedBytes = torn;
    this.fd = O_DSYNC ? openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_DSYNC, 0o600) : openSync(file, 'a', 0o600);
    if (torn) {
      // Written before anything else, synchronously: if it cannot be written, the service does not start.
      writeSync(
        this.fd,
        this.next({
          kind: 'audit_recovered',
          service: '',
          outcome: 'OK',
          reason: `dropped ${torn} bytes of a record torn by a crash (never acknowledged as durable)`,
        }).line,
      );
      fsyncSync(this.fd);
    }
    this.durable = fstatSync(this.fd).size;
  }

  /** The next record of the chain for an event, and its line. */
  private next(event: AuditEvent): { record: AuditRecord; line: string } {
    const sealed = sealRecord(event, this.seq + 1, this.prev);
    this.seq = sealed.record.seq;
    this.prev = sealed.record.hash;
    return sealed;
  }

  /** Appends one record; resolves with it once it is on disk. The chain order is the call order. */
  append(event: AuditEvent): Promise<AuditRecord> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const pending: Pending = { event };
      // Assigned, not written in the literal: under tsx (esbuild keepNames) a named arrow costs a defineProperty per call.
      pending.done = (err, record) => (err ? reject(err) : resolve(record!));
      this.pending.push(pending);
      this.flushWithin(0);
    });
  }

  /**
   * Appends one record without waiting for it: it is written and flushed
   * within `windowMs` (sooner when an append() flushes first), in call order
   * with the others. A failed write is reported to `onUnwritten`.
   */
  record(event: AuditEvent): void {
    if (this.broken) return this.options.onUnwritten?.(1, this.broken);
    this.pending.push({ event });
    this.flushWithin(this.closing ? 0 : this.windowMs);
  }

  private flushWithin(ms: number): void {
    // A flush in progress takes every pending record before it ends.
    if (this.flushing) return;
    if (ms > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.flushing ??= this.flush();
      }, ms);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    // After this turn of the event loop: the records of calls that end together share the flush.
    this.flushing = new Promise((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      const [seq, prev] = [this.seq, this.prev];
      const records = batch.map((b) => this.next(b.event));
      const data = Buffer.from(records.map((r) => r.line).join(''));
      try {
        for (let offset = 0; offset < data.length;)
          offset += (await writeAsync(this.fd, data, offset, data.length - offset)).bytesWritten;
        if (!O_DSYNC) await fdatasyncAsync(this.fd);
        this.durable += data.length;
        batch.forEach((b, i) => b.done?.(undefined, records[i]!.record));
      } catch (err) {
        this.undo(seq, prev, err as Error);
        this.settle(batch, err as Error);
      }
      // Only records nobody waits for are left: they wait for their window, to share a flush.
      if (!this.closing && this.windowMs > 0 && !this.pending.some((p) => p.done)) break;
    }
    this.flushing = undefined;
    if (this.pending.length) this.flushWithin(this.windowMs);
  }

  private settle(records: Pending[], err: Error): void {
    const unawaited = records.filter((r) => !r.done).length;
    for (const r of records) r.done?.(err);
    if (unawaited) this.options.onUnwritten?.(unawaited, err);
  }

  // A failed write may have left part of its records in the file: cut them, and the chain goes on from the last durable record.
  private undo(seq: number, prev: string, cause: Error): void {
    [this.seq, this.prev] = [seq, prev];
    try {
      ftruncateSync(this.fd, this.durable);
      fsyncSync(this.fd);
    } catch (err) {
      this.broken = new Error(
        `audit trail ${this.file}: a failed write (${cause.message}) could not be cut from the file (${(err as Error).message}); restart the service to repair it`,
      );
      this.settle(this.pending.splice(0), this.broken);
    }
  }

  /** Flushes every pending record (those of record() too), then closes the file. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pending.length) this.flushWithin(0);
    await this.flushing;
    closeSync(this.fd);
    // A call that ends after the shutdown grace must not write to the closed descriptor: the
    // number may already name another file.
    this.broken = new Error(`audit trail ${this.file} is closed`);
  }
}
