/** The part of node-vault's ApiResponseError these helpers read. */
interface VaultResponseError {
  response: { statusCode: number; body?: unknown };
}

function isResponseError(error: unknown): error is VaultResponseError {
  const response = (error as { response?: { statusCode?: unknown } } | null)?.response;
  return typeof response?.statusCode === 'number';
}

/** The HTTP status Vault answered with, or undefined when no answer came back. */
export function vaultStatus(error: unknown): number | undefined {
  return isResponseError(error) ? error.response.statusCode : undefined;
}

/** Vault's own error strings, from `{ "errors": [...] }`. */
function vaultMessages(error: VaultResponseError): string[] {
  const errors = (error.response.body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  // Vault wraps multierrors as "1 error occurred:\n\t* permission denied\n\n".
  return errors
    .filter((e): e is string => typeof e === 'string')
    .map((e) =>
      e
        .replace(/^\d+ errors? occurred:\s*/, '')
        .replace(/\s*\*\s*/g, ' ')
        .trim(),
    );
}

const TLS_CODE = /CERT|SSL|TLS|SIGNATURE|ISSUER/;

/** Replaces every occurrence of a credential in text, as a last line of defence. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((out, s) => out.split(s).join('[REDACTED]'), text);
}

/**
 * Explains a failed Vault call in words safe to log and show: the status and
 * Vault's own error strings, or the transport error code. The raw error is
 * never passed on: node-vault's transport errors carry the request headers
 * and body, that is the token and the login credentials.
 */
export function describeVaultFailure(error: unknown, address: string, secrets: readonly string[] = []): string {
  if (!isResponseError(error)) {
    const { code, isAxiosError, message } = (error ?? {}) as {
      code?: unknown;
      isAxiosError?: unknown;
      message?: unknown;
    };
    if (typeof code === 'string' && TLS_CODE.test(code)) {
      return `Vault unreachable at ${address}: TLS certificate not trusted (${code}); check the CA certificate`;
    }
    if (typeof code === 'string') return `Vault unreachable at ${address} (${code})`;
    if (isAxiosError === true) return `Vault unreachable at ${address}`;
    // Not a transport failure: node-vault refused the request itself (e.g. its schema check).
    return `request not sent: ${withoutSecrets(String(message ?? error), secrets)}`;
  }
  const status = error.response.statusCode;
  const details = withoutSecrets(vaultMessages(error).join('; '), secrets);
  if (status === 403) return 'permission denied';
  if (status === 404) {
    // KV v2 answers 404 with the version's metadata when that version was deleted or destroyed.
    const metadata = (
      error.response.body as { data?: { metadata?: { deletion_time?: unknown; destroyed?: unknown } } } | null
    )?.data?.metadata;
    return metadata?.destroyed === true || metadata?.deletion_time ? 'not found (deleted)' : 'not found';
  }
  return `Vault answered ${status}${details ? `: ${details}` : ''}`;
}
