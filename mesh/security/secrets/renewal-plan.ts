/** A Vault token's lease, in Vault's units. */
export interface TokenLease {
  /** Seconds until the token expires; after a login or lookup, 0 means it never does. */
  ttlSeconds: number;
  /** Whether renew-self can extend it. */
  renewable: boolean;
}

/** What the renewal loop does next. */
export type NextStep = { action: 'renew' | 'login'; inMs: number } | { action: 'none'; why: string };

/**
 * Renew at two thirds of the TTL: late enough not to hammer Vault, early
 * enough that a slow or failed attempt can be retried before expiry.
 */
const RENEW_AT = 2 / 3;
/** setTimeout's largest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function at(ttlSeconds: number): number {
  return Math.min(MAX_TIMER_MS, Math.floor(ttlSeconds * 1000 * RENEW_AT));
}

/** The step after a login (or, for a given token, its lookup). */
export function planAfterLogin(lease: TokenLease, canLogin: boolean): NextStep {
  if (lease.ttlSeconds <= 0) return { action: 'none', why: 'the token does not expire' };
  if (lease.renewable) return { action: 'renew', inMs: at(lease.ttlSeconds) };
  if (canLogin) return { action: 'login', inMs: at(lease.ttlSeconds) };
  return { action: 'none', why: `the token is not renewable and expires in ${lease.ttlSeconds}s` };
}

/**
 * The step after a successful renew-self. Vault grants the token's full TTL
 * on each renewal until its max TTL is near; a shorter grant (or 0) means the
 * max TTL caps it, and only a new login gives a token that lives longer.
 */
export function planAfterRenewal(lease: TokenLease, fullTtlSeconds: number, canLogin: boolean): NextStep {
  const capped = !lease.renewable || lease.ttlSeconds < fullTtlSeconds;
  if (!capped) return { action: 'renew', inMs: at(lease.ttlSeconds) };
  if (canLogin) return { action: 'login', inMs: at(Math.max(0, lease.ttlSeconds)) };
  return { action: 'none', why: `the token reaches its max TTL in ${Math.max(0, lease.ttlSeconds)}s` };
}

/** Backoff after a failed attempt that may succeed later (Vault unreachable, sealed, overloaded). */
export function retryDelayMs(failures: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
}
