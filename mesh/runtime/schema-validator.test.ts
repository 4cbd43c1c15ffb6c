import { Code } from '../core/index.js';
import { compileSchema } from './schema-validator.js';

describe('schema checks', () => {
  const check = compileSchema({
    type: 'object',
    required: ['customerId', 'amount', 'currency'],
    additionalProperties: false,
    properties: {
      customerId: { type: 'string', pattern: '^C-[0-9]{4}$' },
      amount: { type: 'number', minimum: 0 },
      currency: { enum: ['EUR', 'GBP'] },
    },
  });

  test('every problem of a value is named at once, each with its path', () => {
    expect(() => check.assert({ customerId: 5, amount: -1, extra: true }, 'input')).toThrow(
      expect.objectContaining({
        code: Code.INVALID_ARGUMENT,
        message:
          'input/currency: required; input/extra: not allowed; input/customerId: must be string; input/amount: must be >= 0',
      }),
    );
  });

  test('a valid value passes; the code is chosen by the caller', () => {
    expect(() => check.assert({ customerId: 'C-1001', amount: 5, currency: 'EUR' }, 'input')).not.toThrow();
    expect(() => check.assert({}, 'output', Code.FAILED_PRECONDITION)).toThrow(
      expect.objectContaining({ code: Code.FAILED_PRECONDITION }),
    );
  });
});
