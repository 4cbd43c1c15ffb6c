import { createHash } from 'node:crypto';
import {
  closeSync,
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
import { redactDeep } from './pii.js';

/** What an audit record says happened. */
export interface AuditEvent {
  /** call | auth_failure | authz_denied | tool_invocation | plan_created | task_state. */
  kind: string;
  /** Token subject (a user after token exchange). */
  subject?: string;
  /** The acting agents, the current actor first. */
  actors?: string[];
  /** The caller's SPIFFE ID. */
  peer?: string;
  service: string;
  /** gRPC method, "pkg.Service/Method". */
  method?: string;
  /** What was acted on: a tool name, a task id... */
  resource?: string;
  /** The status code name, e.g. "OK", "PERMISSION_DENIED". */
  outcome: string;
  /** Why, for refusals and failures. */
  reason?: string;
  task_id?: string;
  trace_id?: string;
}

/** A stored record: the event plus its place in the hash chain. */
export interface AuditRecord extends AuditEvent {
  seq: number;
  time: string;
  /** Hash of the previous record ("" for the first). */
  prev: string;
  /** sha256 over prev and this record's canonical JSON without `hash`. */
  hash: string;
}

const canonical = (record: Omit<AuditRecord, 'hash'>): string => JSON.stringify(record, Object.keys(record).sort());

function hashOf(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(record.prev).update('\n').update(canonical(record)).digest('hex');
}

// A UUID or a W3C trace id: the forms of the ids the mesh mints.
const MINTED_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

/**
 * An append-only, hash-chained audit trail in a JSON-lines file. append()
 * resolves only once its record is written and flushed to disk (fdatasync),
 * so an acknowledged record is never lost in a buffer. Records that arrive
 * while a flush is in progress share the next one (group commit), and the
 * disk wait happens off the event loop. Personal data is redacted.
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
  private pending: { event: AuditEvent; done: (err?: Error, record?: AuditRecord) => void }[] = [];
  private flushing: Promise<void> | undefined;
  // Bytes of the file that hold durable records: a failed write is cut back to it.
  private durable = 0;
  private broken: Error | undefined;

  /** Bytes of a record torn by a crash that the constructor dropped (0: none). */
  readonly repairedBytes: number;

  constructor(readonly file: string) {
    let torn = 0;
    if (existsSync(file)) {
      // Continue the existing chain. A crash can leave the last write half done: those records
      // were never acknowledged (a call completes only after its record is flushed), so the torn
      // bytes go, and a record says so. A complete last line that is not a record is not a crash:
      // refuse to chain onto it (and touch nothing). Bytes, not text: a newline byte never occurs
      // inside a multi-byte UTF-8 character, so the cut is exact whatever the file holds.
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
    this.fd = openSync(file, 'a', 0o600);
    if (torn) {
      // Written before anything else, synchronously: if it cannot be written, the service does not start.
      writeSync(
        this.fd,
        this.next({
          kind: 'audit_recovered',
          service: '',
          outcome: 'OK',
          reason: `dropped ${torn} bytes of a record torn by a crash (never acknowledged)`,
        }).line,
      );
      fsyncSync(this.fd);
    }
    this.durable = fstatSync(this.fd).size;
  }

  /** The next record of the chain for an event, and its line. */
  private next(event: AuditEvent): { record: AuditRecord; line: string } {
    // Ids the mesh mints (task UUIDs, hex trace ids) hold no personal data, and the redactor would
    // read some as phone numbers ("…63-5559-4760…"): redacted, a record would lose its task. Any
    // other value may come from a caller (GetTask's task_id) and is redacted like all text.
    const minted = Object.fromEntries(
      (['task_id', 'trace_id'] as const).flatMap((k) => (MINTED_ID.test(event[k] ?? '') ? [[k, event[k]]] : [])),
    );
    const body = {
      ...(redactDeep(event) as AuditEvent),
      ...minted,
      seq: this.seq + 1,
      time: new Date().toISOString(),
      prev: this.prev,
    };
    const record: AuditRecord = { ...body, hash: hashOf(body) };
    this.seq = record.seq;
    this.prev = record.hash;
    return { record, line: JSON.stringify(record) + '\n' };
  }

  /** Appends one record; resolves with it once it is on disk. The chain order is the call order. */
  append(event: AuditEvent): Promise<AuditRecord> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.pending.push({ event, done: (err, record) => (err ? reject(err) : resolve(record!)) });
      this.flushing ??= this.flush();
    });
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
        await fdatasyncAsync(this.fd);
        this.durable += data.length;
        batch.forEach((b, i) => b.done(undefined, records[i]!.record));
      } catch (err) {
        this.undo(seq, prev, err as Error);
        for (const b of batch) b.done(err as Error);
      }
    }
    this.flushing = undefined;
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
      for (const b of this.pending.splice(0)) b.done(this.broken);
    }
  }

  /** Waits for pending records, then closes the file. */
  async close(): Promise<void> {
    await this.flushing;
    closeSync(this.fd);
  }
}

/** The outcome of verifying an audit file. */
export interface AuditVerification {
  ok: boolean;
  records: number;
  /** The first bad record: its line (1-based) and what is wrong. */
  firstBad?: { line: number; seq?: number; problem: string };
}

/**
 * Verifies a chain: every record's hash, its link to the previous one and
 * consecutive sequence numbers. Detects modified, deleted, inserted and
 * reordered records and names the first bad one.
 */
export function verifyAuditFile(file: string): AuditVerification {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  let prev = '';
  let expectedSeq = 1;
  for (let i = 0; i < lines.length; i++) {
    const bad = (problem: string, seq?: number): AuditVerification => ({
      ok: false,
      records: lines.length,
      firstBad: { line: i + 1, seq, problem },
    });
    let record: AuditRecord;
    try {
      record = JSON.parse(lines[i]!) as AuditRecord;
    } catch {
      return bad('not a JSON record');
    }
    const { hash, ...body } = record;
    if (hashOf(body) !== hash) return bad('record was modified (hash mismatch)', record.seq);
    if (record.prev !== prev) return bad('chain broken: previous record missing, inserted or reordered', record.seq);
    if (record.seq !== expectedSeq) return bad(`sequence ${record.seq} where ${expectedSeq} was expected`, record.seq);
    prev = hash;
    expectedSeq++;
  }
  return { ok: true, records: lines.length };
}
