import { RE2JS } from 're2js';
import { regexPrefixes } from './regex-prefixes.js';

// A small deterministic generator, so a failure can be reproduced.
function random(seed: number) {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}
const pick = <T>(r: () => number, items: readonly T[]) => items[Math.floor(r() * items.length)]!;

describe('regex prefixes', () => {
  test.each([
    ['ns1[0-9]/agent-1.*', ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => `ns1${d}/agent-1`)],
    ['ns42/agent-4[0-9]*', ['ns42/agent-4']],
    ['team/[ab]x', ['team/ax', 'team/bx']],
    ['ab?c', ['a']],
    ['[^a]b', []],
    ['(?i)ab', []],
    ['a|b', []],
    ['.*x', []],
    ['[a-z][a-z]', [...'abcdefghijklmnopqrstuvwxyz']],
  ])('%s: %j', (regex, prefixes) => {
    expect(regexPrefixes(regex)).toEqual(prefixes);
  });

  test('every name a random regular expression matches starts with one of its prefixes', () => {
    const r = random(5);
    const atom = () => pick(r, ['a', 'b', 'n', '1', '/', '-', '.', '[0-2]', '[ab]', '(a|b)', '[a-b1]', '[^a]']);
    const quant = () => pick(r, ['', '', '', '*', '+', '?', '{1,2}', '{0,1}']);
    let matched = 0;
    for (let i = 0; i < 1_000; i++) {
      const regex = Array.from({ length: 1 + Math.floor(r() * 5) }, () => atom() + quant()).join('');
      const prefixes = regexPrefixes(regex);
      const re = RE2JS.compile(`^(?:${regex})$`);
      for (let k = 0; k < 200; k++) {
        const name = Array.from({ length: Math.floor(r() * 6) }, () =>
          pick(r, ['a', 'b', 'n', '1', '0', '2', '/', '-']),
        ).join('');
        if (!re.matches(name)) continue;
        matched++;
        if (prefixes.length)
          expect([regex, name, prefixes.some((p) => name.startsWith(p))]).toEqual([regex, name, true]);
      }
    }
    expect(matched).toBeGreaterThan(1_000);
  });
});
