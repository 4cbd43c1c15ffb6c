import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

/** One log line of a service, as the console shows it. */
export interface LogLine {
  service: string;
  time: string;
  level: string;
  msg: string;
  /** A few fields that say what the line is about (method, task, step, code). */
  fields: Record<string, string>;
}

/** Only the newest part of a log is searched: enough for recent tasks, bounded for big files. */
const TAIL_BYTES = 8 * 1024 * 1024;
const SHOWN_FIELDS = [
  'rpc',
  'method',
  'subject',
  'task_id',
  'taskId',
  'step',
  'stepId',
  'code',
  'ms',
  'reason',
  'tool',
];

function tailOf(file: string): string {
  const size = statSync(file).size;
  const length = Math.min(size, TAIL_BYTES);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}

/**
 * The lines the services logged under one trace id, oldest first, from their
 * log files (already redacted of secrets and personal data by the logger).
 */
export function linesOfTrace(logs: { service: string; file: string }[], traceId: string, limit = 500): LogLine[] {
  if (!/^[0-9a-f]{32}$/.test(traceId)) return [];
  const lines: LogLine[] = [];
  for (const { service, file } of logs) {
    if (!existsSync(file)) continue;
    for (const text of tailOf(file).split('\n')) {
      if (!text.includes(traceId)) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (record.trace_id !== traceId) continue;
      const fields = Object.fromEntries(
        SHOWN_FIELDS.filter((f) => record[f] !== undefined).map((f) => [f, String(record[f])]),
      );
      lines.push({
        service,
        time: String(record.time ?? ''),
        level: String(record.level ?? ''),
        msg: String(record.msg ?? ''),
        fields,
      });
    }
  }
  return lines.sort((a, b) => a.time.localeCompare(b.time)).slice(-limit);
}
