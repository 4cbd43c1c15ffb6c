/**
 * Where a service's secrets come from at startup (client secrets, signing
 * keys...). Paths are provider-neutral, e.g. "agentmesh/auth/signing-keys";
 * a secret is a flat map of string fields, as in Vault KV v2.
 */
export interface SecretsProvider {
  /** A short name for logs, e.g. "vault" or "file". */
  readonly kind: string;
  /**
   * Reads one secret. Throws a SecretError naming the path (never a value)
   * when it is missing or unreadable.
   */
  read(path: string): Promise<Record<string, string>>;
  /** Stops background work (token renewal, file watching). */
  close(): Promise<void>;
}

/** A secret could not be read: names the path and why, never the value. */
export class SecretError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
    options: { cause?: unknown } = {},
  ) {
    super(`secret ${path}: ${problem}`, options);
    this.name = 'SecretError';
  }
}
