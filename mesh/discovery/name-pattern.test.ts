import { Code } from '../core/index.js';
import { RE2JS } from 're2js';
import { compileNamePattern, globMatches, globMatchesByProgramme, requiredLiterals } from './name-pattern.js';

// A small deterministic generator, so a failure can be reproduced.
function random(seed: number) {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}
const pick = <T>(r: () => number, items: readonly T[]) => items[Math.floor(r() * items.length)]!;

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

  test('the fast glob matchers agree with the general one on thousands of random globs and names', () => {
    const r = random(7);
    const piece = () => pick(r, ['a', 'b', 'ab', 'ns1', '-', '*', '*', '?', '**', '/']);
    const name = () =>
      `${pick(r, ['a', 'ab', 'ns1', 'ns12', 'b-a'])}/${pick(r, ['a', 'ba', 'agent-1', 'ab-ab', 'x/y', ''])}`;
    for (let i = 0; i < 3_000; i++) {
      const glob = Array.from({ length: 1 + Math.floor(r() * 5) }, piece).join('');
      const n = name();
      expect([glob, n, globMatches(glob, n)]).toEqual([glob, n, globMatchesByProgramme(glob, n)]);
    }
  });

  test.each([
    ['ns1[0-9]/agent-1.*', ['ns1', '/agent-1']],
    ['payments/(ledger|fx)', ['payments/']],
    ['ab?cd', ['cd']],
    ['(ab)*cd{2}', []],
    ['a|bc', []],
    ['(?i)payments/.*', []],
    ['pay\\.ments', []],
    ['[]x]yz', []],
    ['team/[a-z0-9-]{1,63}', ['team/']],
    ['ns[0-9]{10}/ab', ['ns', '/ab']],
  ])('required literals of %s: %j', (regex, literals) => {
    expect(requiredLiterals(regex)).toEqual(literals);
  });

  test('the literal pre-test never rejects a name the regular expression matches (random regexes and names)', () => {
    const r = random(11);
    const atom = () => pick(r, ['a', 'b', 'ns', '1', '/', '-', '.', '[0-9]', '[ab]', '(a|b)', '(ns|x)', 'agent']);
    const quant = () => pick(r, ['', '', '', '*', '+', '?', '{1,2}', '{0,12}', '{10}']);
    for (let i = 0; i < 2_000; i++) {
      const regex = Array.from({ length: 1 + Math.floor(r() * 6) }, () => atom() + quant()).join('');
      const m = compileNamePattern({ pattern: { $case: 'regex', regex } }, 'p');
      const re = RE2JS.compile(`^(?:${regex})$`);
      for (let k = 0; k < 10; k++) {
        const n = Array.from({ length: Math.floor(r() * 8) }, () =>
          pick(r, ['a', 'b', 'ns', '1', '2', '/', '-', 'agent', 'x']),
        ).join('');
        expect([regex, n, m.test(n)]).toEqual([regex, n, re.matches(n)]);
      }
    }
  });

  test('regular expressions are anchored to the whole name', () => {
    const m = compileNamePattern(
      { pattern: { $case: 'regex', regex: 'payments/(ledger|fx)' } },
      'scope.visibility.patterns[0]',
    );
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
    expect(() => compileNamePattern(pattern, 'scope.visibility.patterns[0]')).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining(message) }),
    );
  });
});
