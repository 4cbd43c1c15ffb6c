import { backoffMs, CircuitBreaker } from './retry.js';
import { Code } from '../core/index.js';

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
});
