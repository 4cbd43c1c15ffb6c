import { canonicalJson } from './canonical-json.js';

// The same arguments as a plan written them and as PostgreSQL's jsonb gives them back
// (shorter keys first), with objects nested in objects and in arrays.
const asWritten = {
  recipient: { name: 'Jane', iban: 'GB33BUKB20201555555555', address: { street: 'High St', city: 'Leeds' } },
  amount: 250.5,
  lines: [
    { sku: 'A-1', qty: 2 },
    { qty: 1, sku: 'B-2' },
  ],
  memo: null,
};
const fromJsonb = {
  memo: null,
  lines: [
    { qty: 2, sku: 'A-1' },
    { sku: 'B-2', qty: 1 },
  ],
  amount: 250.5,
  recipient: { iban: 'GB33BUKB20201555555555', name: 'Jane', address: { city: 'Leeds', street: 'High St' } },
};

describe('canonical JSON', () => {
  test('key order at every depth does not change the text; JSON.stringify does', () => {
    expect(JSON.stringify(asWritten)).not.toBe(JSON.stringify(fromJsonb));
    expect(canonicalJson(asWritten)).toBe(canonicalJson(fromJsonb));
    expect(canonicalJson(asWritten)).toBe(
      '{"amount":250.5,"lines":[{"qty":2,"sku":"A-1"},{"qty":1,"sku":"B-2"}],"memo":null,' +
        '"recipient":{"address":{"city":"Leeds","street":"High St"},"iban":"GB33BUKB20201555555555","name":"Jane"}}',
    );
  });

  test('the text is valid JSON of the same value', () => {
    expect(JSON.parse(canonicalJson(fromJsonb))).toEqual(asWritten);
  });

  test.each([
    ['a nested value', { ...asWritten, recipient: { ...asWritten.recipient, name: 'John' } }],
    ['a number', { ...asWritten, amount: 250.51 }],
    ['a number for its string', { ...asWritten, amount: '250.5' }],
    ['null for an absent member', (({ memo: _, ...rest }) => rest)(asWritten)],
    ['the order of an array', { ...asWritten, lines: [...asWritten.lines].reverse() }],
  ])('different values give different texts: %s', (_, other) => {
    expect(canonicalJson(other)).not.toBe(canonicalJson(asWritten));
  });

  test('numbers are written as JSON writes them, -0 as 0', () => {
    expect(canonicalJson([1e21, 0.1, -0, 5e-7, 10])).toBe('[1e+21,0.1,0,5e-7,10]');
  });

  test('strings are escaped as JSON escapes them, keys included', () => {
    expect(canonicalJson({ 'a"b': 'line\nbreak \u2028 é' })).toBe('{"a\\"b":"line\\nbreak \u2028 é"}');
  });

  test('an undefined member is left out, as in stored JSON', () => {
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
  });

  test.each([
    [{ amount: Number.NaN }, 'arguments/amount: NaN is not a JSON number'],
    [{ amount: Infinity }, 'arguments/amount: Infinity is not a JSON number'],
    [{ items: [1, undefined] }, 'arguments/items/1: undefined is not JSON'],
    [{ at: new Date(0) }, 'arguments/at: a Date is not JSON'],
    [{ n: 1n }, 'arguments/n: a bigint is not JSON'],
    [{ seen: new Map() }, 'arguments/seen: a Map is not JSON'],
  ])('a value JSON cannot carry is refused, naming where: %o', (value, message) => {
    expect(() => canonicalJson(value, 'arguments')).toThrow(new TypeError(message));
  });
});
