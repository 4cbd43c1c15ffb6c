import { SecretError, type SecretsProvider } from './provider.js';

/**
 * Reads a secret and checks that every field the caller needs is present and
 * non-empty, so a half-provisioned secret stops startup naming the path and
 * the missing fields rather than failing later with an undefined.
 */
export async function readRequired<F extends string>(
  provider: SecretsProvider,
  path: string,
  fields: readonly F[],
): Promise<Record<F, string>> {
  const secret = await provider.read(path);
  const missing = fields.filter((field) => !secret[field]);
  if (missing.length > 0) {
    throw new SecretError(path, `missing or empty field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  return Object.fromEntries(fields.map((field) => [field, secret[field]!])) as Record<F, string>;
}
