import { Code } from '../core/index.js';
import { checkCel, evaluateCondition, MAX_CEL_LENGTH } from './cel.js';

describe('evaluateCondition', () => {
  test('evaluates over the given variables, JSON numbers included', () => {
    const vars = { input: { amount: 1500, country: 'DE' }, steps: { score: { output: { value: 0.7, flags: ['a'] } } } };
    expect(evaluateCondition('input.amount > 1000 && input.country == "DE"', vars)).toBe(true);
    expect(evaluateCondition('steps.score.output.value >= 0.8 || size(steps.score.output.flags) > 1', vars)).toBe(
      false,
    );
    expect(evaluateCondition('input.amount == 1500', vars)).toBe(true);
  });

  test('an expression that does not parse is INVALID_ARGUMENT naming it and the reason', () => {
    expect(() => evaluateCondition('input.amount >', { input: {} })).toThrow(
      expect.objectContaining({
        code: Code.INVALID_ARGUMENT,
        message: 'CEL expression "input.amount >" does not parse: Unexpected token: EOF',
      }),
    );
  });

  test('a result that is not a bool is FAILED_PRECONDITION', () => {
    expect(() => evaluateCondition('input.amount + 1.0', { input: { amount: 1 } })).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: 'CEL expression "input.amount + 1.0" yields number, not bool',
      }),
    );
    expect(() => evaluateCondition('output', { output: 'yes' })).toThrow('yields string, not bool');
  });

  test('JSON numbers are CEL doubles, as in google.protobuf.Struct: arithmetic with an int literal fails', () => {
    expect(() => evaluateCondition('input.amount + 1 > 2.0', { input: { amount: 2 } })).toThrow(
      'no such overload: dyn<double> + int',
    );
    expect(evaluateCondition('input.amount + 1.0 > 2.0', { input: { amount: 2 } })).toBe(true);
  });

  test('a failed evaluation (missing key) is FAILED_PRECONDITION with the reason', () => {
    expect(() => evaluateCondition('input.missing > 1', { input: {} })).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: 'CEL expression "input.missing > 1" failed: No such key: missing',
      }),
    );
  });

  test('an undefined variable reads as null', () => {
    expect(evaluateCondition('output == null', { output: undefined })).toBe(true);
  });

  test('expressions are bounded in length', () => {
    const long = `input.a == "${'x'.repeat(MAX_CEL_LENGTH)}"`;
    expect(() => evaluateCondition(long, { input: { a: 'x' } })).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT }),
    );
  });
});

describe('checkCel', () => {
  test('accepts valid expressions and names the parse error of invalid ones', () => {
    expect(checkCel('input.a > 1')).toBeUndefined();
    expect(checkCel('a &&& b')).toBe('Unexpected character: &');
    expect(checkCel('x'.repeat(MAX_CEL_LENGTH + 1))).toBe(`longer than ${MAX_CEL_LENGTH} characters`);
  });

  test('with variables, reports unknown variables and non-bool results', () => {
    expect(checkCel('input.a > 1 && steps.s.output.ok', ['input', 'steps'])).toBeUndefined();
    expect(checkCel('output.ok', ['input', 'steps'])).toBe('Unknown variable: output');
    expect(checkCel('"text"', ['input'])).toBe('yields string, not bool');
  });
});
