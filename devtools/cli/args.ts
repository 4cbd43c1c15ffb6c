import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cli-error.js';

/** Parsed options of a command. */
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Parses a command's arguments (plus --user and --help, which every command takes); bad ones are a usage error. */
export function parse(
  command: string,
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...options, user: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }) as { values: Values; positionals: string[] };
  } catch (err) {
    throw new CliError(`${(err as Error).message.split('\n')[0]} (see agentmesh ${command} --help)`, 2);
  }
}

/** A repeatable option's values. */
export const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

/** Writes a line to stdout. */
export const out = (line: string): void => void process.stdout.write(`${line}\n`);
