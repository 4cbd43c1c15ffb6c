import { planAfterLogin, planAfterRenewal, retryDelayMs } from './renewal-plan.js';

describe('planAfterLogin', () => {
  test('renews a renewable token at two thirds of its TTL', () => {
    expect(planAfterLogin({ ttlSeconds: 3, renewable: true }, false)).toEqual({ action: 'renew', inMs: 2_000 });
  });

  test('leaves a token that never expires alone (root tokens report ttl 0)', () => {
    expect(planAfterLogin({ ttlSeconds: 0, renewable: false }, true)).toMatchObject({ action: 'none' });
  });

  test('logs in again before a non-renewable token expires, when it can', () => {
    expect(planAfterLogin({ ttlSeconds: 30, renewable: false }, true)).toEqual({ action: 'login', inMs: 20_000 });
    expect(planAfterLogin({ ttlSeconds: 30, renewable: false }, false)).toMatchObject({ action: 'none' });
  });

  test('never asks for a timer longer than setTimeout can hold', () => {
    const step = planAfterLogin({ ttlSeconds: 100 * 86_400, renewable: true }, false);
    expect(step).toEqual({ action: 'renew', inMs: 2 ** 31 - 1 });
  });
});

describe('planAfterRenewal', () => {
  test('keeps renewing while Vault grants the full TTL', () => {
    expect(planAfterRenewal({ ttlSeconds: 60, renewable: true }, 60, true)).toEqual({ action: 'renew', inMs: 40_000 });
  });

  test('a grant shorter than the full TTL means the max TTL is near: log in again', () => {
    expect(planAfterRenewal({ ttlSeconds: 1, renewable: true }, 2, true)).toEqual({ action: 'login', inMs: 666 });
    expect(planAfterRenewal({ ttlSeconds: 0, renewable: true }, 2, true)).toEqual({ action: 'login', inMs: 0 });
  });

  test('a given token at its max TTL cannot be replaced', () => {
    expect(planAfterRenewal({ ttlSeconds: 1, renewable: true }, 2, false)).toMatchObject({ action: 'none' });
  });
});

test('retries back off from half a second to at most 30 s', () => {
  expect([1, 2, 3, 4, 10].map(retryDelayMs)).toEqual([500, 1_000, 2_000, 4_000, 30_000]);
});
