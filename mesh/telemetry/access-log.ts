import pino, { type Logger } from 'pino';
import { redactPii } from './pii.js';

/** The facts of a finished call that its access log line names. */
export interface AccessLogFields {
  /** The status code name, e.g. "OK". */
  code: string;
  /** Handling time, milliseconds (two decimals). */
  ms: number;
  subject: string | undefined;
  task_id: string | undefined;
}

/** The active span's ids, as the logger's mixin adds them to every line. */
export type TraceIds = { trace_id: string; span_id: string } | undefined;

// Loggers made by createLogger carry this mark (their children inherit it): their options are
// known, so a line can be written in their exact format without pino's generic machinery.
const OUR_FORMAT = Symbol('agentmesh.logFormat');
const { streamSym, chindingsSym, needsMetadataGsym, stringifiersSym } = pino.symbols;
// Keys pino leaves out of a child's bindings.
const PINO_OWN = new Set(['level', 'serializers', 'formatters', 'customLevels']);
const MSG = ',"msg":"call finished"}\n';

/** Marks a logger made by createLogger (see accessLogLine). */
export function markOurFormat(log: Logger): Logger {
  (log as unknown as Record<symbol, boolean>)[OUR_FORMAT] = true;
  return log;
}

const str = (v: string) => JSON.stringify(v);

/**
 * The bindings as pino's child() would append them to its parent's (`,"key":value`...), when
 * that is plain JSON: string, finite number and boolean values, no key pino or the redaction
 * treats apart. Undefined otherwise (then a child logger says it).
 */
function plainBindings(log: Logger, bindings: Record<string, unknown>): string | undefined {
  const redactedKeys = (log as unknown as Record<symbol, Record<string, unknown>>)[stringifiersSym] ?? {};
  let out = '';
  for (const key in bindings) {
    const value = bindings[key];
    if (value === undefined) continue;
    if (PINO_OWN.has(key) || redactedKeys[key]) return undefined;
    if (typeof value === 'string') out += `,${str(key)}:${str(value)}`;
    else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
      out += `,${str(key)}:${value}`;
    else return undefined;
  }
  return out;
}

/**
 * Writes the "call finished" line of a call, as `log.child(bindings)` would
 * (the call's own logger: `bindings` are what it adds to `log`'s). On a logger
 * made by createLogger the line is built directly, in the exact form pino
 * would give it (level, time, bindings, the trace ids of the mixin, the
 * fields, message; personal data removed from the strings as the logger's
 * formatter would): the fields are few, known and already typed, so the
 * generic path (a redacting walk of the object, path redaction, the hooks)
 * adds nothing but its cost, and plain bindings need no child logger (making
 * one per call redacts its bindings: ~5 µs). Any other logger (a test's
 * replacement) gets the line through pino.
 */
export function accessLogLine(
  log: Logger,
  fields: AccessLogFields,
  trace: TraceIds,
  bindings?: Record<string, unknown>,
): void {
  const internals = log as unknown as Record<symbol, unknown>;
  const stream = internals[streamSym] as { write(line: string): void; [k: symbol]: unknown } | undefined;
  if (!internals[OUR_FORMAT] || !stream || stream[needsMetadataGsym]) {
    (bindings ? log.child(bindings) : log).info(fields, 'call finished');
    return;
  }
  if (!log.isLevelEnabled('info')) return;
  const own = bindings && plainBindings(log, bindings);
  if (bindings && own === undefined) return accessLogLine(log.child(bindings), fields, trace);
  let line = `{"level":"info","time":"${new Date().toISOString()}"${internals[chindingsSym] as string}${own ?? ''}`;
  if (trace) line += `,"trace_id":${str(trace.trace_id)},"span_id":${str(trace.span_id)}`;
  line += `,"code":${str(fields.code)},"ms":${Number.isFinite(fields.ms) ? fields.ms : null}`;
  if (fields.subject !== undefined) line += `,"subject":${str(redactPii(fields.subject))}`;
  if (fields.task_id !== undefined) line += `,"task_id":${str(redactPii(fields.task_id))}`;
  stream.write(line + MSG);
}
