import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

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

/** Options for createLogger. */
export interface LoggerOptions {
  /** The service name, on every line. */
  service: string;
  level?: LevelWithSilent;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
}

/** Creates the pino JSON logger every service uses. */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
