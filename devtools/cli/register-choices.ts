import { readFileSync } from 'node:fs';
import { list } from './args.js';
import { CliError } from './cli-error.js';

/** The labels given with --label K=V (repeatable). */
export function labelsOf(given: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of list(given)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new CliError(`--label ${pair}: expected key=value`, 2);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** The PEM bundle of --ca, or '' without it; a one-line error when the file cannot be read. */
export function readCa(file: string | undefined): string {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--ca ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
