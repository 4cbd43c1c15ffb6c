/** A one-line error for the person at the terminal: what failed and what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
