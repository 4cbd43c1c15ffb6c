import { Code, MeshError } from '../core/index.js';

/** Status codes worth another attempt: the call may succeed later without any change (see worthRetrying). */
export const RETRYABLE = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.ABORTED]);

/** Codes that say a collaborator is unhealthy (down, overloaded, broken): what opens its circuit (showsUnhealthy). */
export const BREAKER_FAILURES = new Set([
  Code.UNAVAILABLE,
  Code.DEADLINE_EXCEEDED,
  Code.RESOURCE_EXHAUSTED,
  Code.INTERNAL,
  Code.UNKNOWN,
]);

/**
 * Whether another attempt of a failed call may succeed: its code says "not now", and its answer
 * did not say the refusal is permanent (`grpc-retry-pushback-ms: -1`, MeshError.permanent).
 */
export function worthRetrying(error: MeshError): boolean {
  return RETRYABLE.has(error.code) && !error.permanent;
}

/**
 * Whether a failed call counts toward opening its collaborator's circuit. A permanent refusal of
 * this request (RESOURCE_EXHAUSTED: too big, too broad) does not: the collaborator is up and
 * answering, and one bad request must not open the circuit for everyone's calls. Any other code
 * still counts with a pushback: a service shedding load with UNAVAILABLE and `-1` (as gRFC A6
 * allows) or failing with INTERNAL is unhealthy all the same, and must not keep its circuit shut.
 */
export function showsUnhealthy(error: MeshError): boolean {
  if (error.permanent && error.code === Code.RESOURCE_EXHAUSTED) return false;
  return BREAKER_FAILURES.has(error.code);
}

/** How a step is retried. */
export interface RetrySettings {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** The delay before attempt `attempt` (2, 3, ...): exponential with full jitter, so retries from many tasks spread out. */
export function backoffMs(attempt: number, s: RetrySettings, random = Math.random): number {
  const ceiling = Math.min(s.maxBackoffMs, s.initialBackoffMs * 2 ** (attempt - 2));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** States of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker per collaborator: after `threshold` consecutive failures
 * it opens and calls fail fast with UNAVAILABLE for `coolDownMs`; then one
 * trial call is let through (half-open), which closes it on success.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trial = false;

  constructor(
    readonly name: string,
    private readonly threshold = 5,
    private readonly coolDownMs = 10_000,
  ) {}

  get state(): BreakerState {
    if (this.failures < this.threshold) return 'closed';
    return Date.now() - this.openedAt >= this.coolDownMs ? 'half-open' : 'open';
  }

  /** Throws UNAVAILABLE while open; lets one trial through when half-open. */
  admit(): void {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.trial)) {
      throw new MeshError(Code.UNAVAILABLE, `circuit open for ${this.name}: failing fast`);
    }
    if (state === 'half-open') this.trial = true;
  }

  succeeded(): void {
    this.failures = 0;
    this.trial = false;
  }

  /** Ends an admitted call that reached no verdict (it was never made): a half-open trial is given back. */
  release(): void {
    this.trial = false;
  }

  failed(): void {
    this.failures++;
    this.trial = false;
    if (this.failures >= this.threshold) this.openedAt = Date.now();
  }
}
