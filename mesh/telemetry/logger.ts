import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { markOurFormat } from './access-log.js';
import { redactDeep, redactPii } from './pii.js';

export type { Logger };

/**
 * Field paths whose values are secrets wherever they appear in a log record.
 * Redaction happens in the logger, before anything is written.
 */
export const SECRET_PATHS = [
  'authorization',
  '*.authorization',
  'metadata.authorization',
  'headers.authorization',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'clientSecret',
  '*.clientSecret',
  'client_secret',
  '*.client_secret',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
];

/** A child logger whose bindings are redacted first (pino writes child bindings without passing them through `formatters.log`). */
export function safeChild(log: Logger, bindings: Record<string, unknown>): Logger {
  return log.child(redactDeep(bindings) as Record<string, unknown>);
}

/** Options for createLogger. */
export interface LoggerOptions {
  /** The service name, on every line. */
  service: string;
  level?: LevelWithSilent;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
}

/**
 * Creates the pino JSON logger every service uses: secrets removed by path,
 * personal data removed from every string (message included), and the
 * active trace and span ids on every line.
 */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  const log = pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_PATHS, censor: '[REDACTED]' },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redactPii(a) : a)) as Parameters<typeof method>);
        },
      },
      mixin() {
        const span = trace.getActiveSpan()?.spanContext();
        return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
      },
    },
    destination,
  );
  // The access log line is written in this format directly (access-log.ts): keep the two in step.
  return markOurFormat(log);
}
