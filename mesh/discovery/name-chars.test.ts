import { RE2JS } from 're2js';
import { globMatches } from './name-pattern.js';
import { globRequirements, meets, nameChars, regexRequirements } from './name-chars.js';

// The index skips a pattern's program for names lacking a character the pattern needs: a name
// the pattern matches must never be skipped.

const REGEXES = [
  '.*[xyz]q.*',
  'ns1[0-9]/agent-.*[qwx][0-9]{3}',
  'ns[0-5]/a[0-9]+',
  'a?b*c+/.*',
  '(ab|cd)/e.*',
  '[A-Z]+/x.*',
  'ns_1/.*-v2\\.0',
  '(?i)NS1/.*',
  '.{2}/[a-c]z?',
];
const GLOBS = ['ns1/*', '*/a-?x', '**q*', 'Ns?/*_b'];

function names(): string[] {
  const alphabet = 'abcqxyzns01-/_.AZ';
  let seed = 5;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const random = Array.from({ length: 4_000 }, () =>
    Array.from({ length: 2 + Math.floor(next() * 10) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
  );
  return [...random, 'ns1/agent-xq123', 'ns3/a77', 'aabcc/z', 'cd/e', 'ABC/x1', 'ns_1/k-v2.0', 'ns1/a', 'xy/cz'];
}

describe('name characters', () => {
  test('no name a regular expression matches lacks a character it is said to need', () => {
    for (const text of REGEXES) {
      const re = RE2JS.compile(`^(?:${text})$`);
      const needs = regexRequirements(text);
      const matched = names().filter((n) => re.matches(n));
      for (const name of matched)
        expect({ text, name, meets: meets(nameChars(name), needs) }).toMatchObject({ meets: true });
    }
  });

  test('no name a glob matches lacks a character it is said to need', () => {
    for (const glob of GLOBS) {
      const needs = globRequirements(glob);
      for (const name of names().filter((n) => globMatches(glob, n)))
        expect({ glob, name, meets: meets(nameChars(name), needs) }).toMatchObject({ meets: true });
    }
  });

  test('names lacking a needed character are told apart', () => {
    const needs = regexRequirements('.*[xyz]q.*');
    expect(meets(nameChars('ns1/agent-1'), needs)).toBe(false);
    expect(meets(nameChars('payments/fxquotes'), needs)).toBe(true);
    expect(regexRequirements('(ab|cd)')).toEqual([]);
  });
});
