import { backoffMs, CircuitBreaker, showsUnhealthy, worthRetrying } from './retry.js';
import { Code, MeshError } from '../core/index.js';

describe('retries and circuit breaking', () => {
  test('backoff grows exponentially within the cap, with jitter between half and all of it', () => {
    const s = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1_000 };
    expect(backoffMs(2, s, () => 1)).toBe(100);
    expect(backoffMs(3, s, () => 1)).toBe(200);
    expect(backoffMs(6, s, () => 1)).toBe(1_000);
    expect(backoffMs(3, s, () => 0)).toBe(100);
  });

  test('opens after consecutive failures, fails fast, lets one trial through after the cool-down', async () => {
    const breaker = new CircuitBreaker('tool x', 2, 100);
    breaker.admit();
    breaker.failed();
    breaker.admit();
    breaker.failed();
    expect(breaker.state).toBe('open');
    expect(() => breaker.admit()).toThrow(expect.objectContaining({ code: Code.UNAVAILABLE }));
    await new Promise((r) => setTimeout(r, 120));
    breaker.admit();
    expect(() => breaker.admit()).toThrow(/circuit open/);
    breaker.succeeded();
    expect(breaker.state).toBe('closed');
  });

  test('a permanent refusal (pushback -1) is neither retried nor a sign of an unhealthy collaborator', () => {
    const busy = new MeshError(Code.RESOURCE_EXHAUSTED, 'quota: try later');
    const tooBig = new MeshError(Code.RESOURCE_EXHAUSTED, 'message: 9000 bytes is over the 4096-byte limit', {
      permanent: true,
    });
    expect([worthRetrying(busy), showsUnhealthy(busy)]).toEqual([true, true]);
    expect([worthRetrying(tooBig), showsUnhealthy(tooBig)]).toEqual([false, false]);
    const down = new MeshError(Code.UNAVAILABLE, 'down');
    expect([worthRetrying(down), showsUnhealthy(down)]).toEqual([true, true]);
    const refused = new MeshError(Code.INVALID_ARGUMENT, 'amount: required');
    expect([worthRetrying(refused), showsUnhealthy(refused)]).toEqual([false, false]);
    // A pushback on a sign of ill health (load shed with UNAVAILABLE, a crash) stops retries, not the breaker.
    for (const code of [Code.UNAVAILABLE, Code.INTERNAL, Code.UNKNOWN, Code.DEADLINE_EXCEEDED]) {
      const shed = new MeshError(code, 'shedding load', { permanent: true });
      expect([worthRetrying(shed), showsUnhealthy(shed)]).toEqual([false, true]);
    }
  });
});
