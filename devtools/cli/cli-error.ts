import { Code, isMeshError } from '../../mesh/index.js';

/** A one-line error for the person at the terminal: what failed and what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** An agent's refusal of a call as one line: the agent, what it refused, its reason and the status code. */
export function refusal(agent: string, what: string, err: unknown): unknown {
  if (!isMeshError(err)) return err;
  return new CliError(`${agent} refused ${what}: ${err.message.split('\n')[0]} (${Code[err.code]})`);
}
