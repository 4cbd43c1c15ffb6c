import { SecretError } from './provider.js';

/**
 * Checks that a stored secret is a flat map of string fields, as the
 * SecretsProvider contract promises. Errors name the path and the field,
 * never a value.
 */
export function toSecretFields(path: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SecretError(path, 'is not a map of fields');
  }
  const fields: Record<string, string> = {};
  for (const [field, fieldValue] of Object.entries(value)) {
    if (typeof fieldValue !== 'string') throw new SecretError(path, `field "${field}" is not a string`);
    fields[field] = fieldValue;
  }
  return fields;
}
