import { Code } from '../server/errors.js';
import { compileNamePattern, globMatches } from './name-pattern.js';

describe('name patterns', () => {
  test.each([
    ['payments/*', 'payments/ledger', true],
    ['payments/*', 'payments/eu/ledger', false],
    ['payments/**', 'payments/eu/ledger', true],
    ['*/credit-*', 'lending/credit-risk', true],
    ['*/credit-*', 'lending/debit-risk', false],
    ['lending/?isk', 'lending/risk', true],
    ['lending/risk', 'lending/risk', true],
  ])('glob %s on %s → %s', (glob, name, expected) => {
    expect(globMatches(glob, name)).toBe(expected);
  });

  test('regular expressions are anchored to the whole name', () => {
    const m = compileNamePattern({ pattern: { $case: 'regex', regex: 'payments/(ledger|fx)' } }, 'scope.visibility.patterns[0]');
    expect(m.test('payments/fx')).toBe(true);
    expect(m.test('payments/fx-old')).toBe(false);
  });

  test('a catastrophic-backtracking regex runs in linear time against a long name', () => {
    const m = compileNamePattern({ pattern: { $case: 'regex', regex: '(a+)+$' } }, 'p');
    expect(m.test('a'.repeat(50_000) + '!')).toBe(false);
    const g = compileNamePattern({ pattern: { $case: 'glob', glob: '*a*a*a*a*a*a*a*b' } }, 'p');
    expect(g.test('a'.repeat(2_000))).toBe(false);
  });

  test.each([
    [{ pattern: { $case: 'regex' as const, regex: '(a' } }, 'invalid regular expression'],
    [{ pattern: { $case: 'regex' as const, regex: '(a)\\1' } }, 'invalid regular expression'],
    [{ pattern: { $case: 'glob' as const, glob: 'x'.repeat(300) } }, 'longer than 256'],
    [{ pattern: undefined }, 'needs glob or regex'],
  ])('%j is INVALID_ARGUMENT', (pattern, message) => {
    expect(() => compileNamePattern(pattern, 'scope.visibility.patterns[0]')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining(message) }));
  });
});
