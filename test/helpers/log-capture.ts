import { createLogger, type Logger } from '../../mesh/index.js';

/** A logger whose JSON lines are kept in memory, for asserting what was (not) logged. */
export function captureLogger(service = 'test'): { log: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const log = createLogger({ service, level: 'debug', destination: { write: (line: string) => void raw.push(line) } });
  return {
    log,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text: () => raw.join(''),
  };
}
