import { fieldsOf, inputOf, valuesOf, type JsonSchema } from './schema-form.js';

const LOAN: JsonSchema = {
  type: 'object',
  required: ['customerId', 'amount', 'currency', 'termMonths'],
  properties: {
    customerId: { type: 'string', pattern: '^C-[0-9]{4}$' },
    amount: { type: 'number', exclusiveMinimum: 0, maximum: 1000000 },
    currency: { enum: ['EUR', 'USD', 'GBP', 'CHF'] },
    termMonths: { type: 'integer', minimum: 6, maximum: 360 },
    urgent: { type: 'boolean', description: 'decide today' },
    notes: { type: 'array' },
  },
};

describe('a form generated from a skill input schema', () => {
  const fields = fieldsOf(LOAN);

  test('each property becomes a field of the matching kind with its constraints and a readable label', () => {
    expect(fields.map((f) => [f.name, f.kind, f.label, f.required])).toEqual([
      ['customerId', 'text', 'Customer Id', true],
      ['amount', 'number', 'Amount', true],
      ['currency', 'choice', 'Currency', true],
      ['termMonths', 'number', 'Term Months', true],
      ['urgent', 'boolean', 'Urgent', false],
      ['notes', 'json', 'Notes', false],
    ]);
    expect(fields[1]).toMatchObject({ integer: false, exclusiveMin: 0, max: 1000000 });
    expect(fields[2]).toMatchObject({ options: ['EUR', 'USD', 'GBP', 'CHF'] });
    expect(fields[3]).toMatchObject({ integer: true, min: 6, max: 360 });
    expect(fields[4]!.description).toBe('decide today');
  });

  test('an example fills the form, and the filled form gives the same input back', () => {
    const example = { customerId: 'C-1001', amount: 5000, currency: 'EUR', termMonths: 36 };
    const values = valuesOf(fields, example);
    expect(values).toEqual({ customerId: 'C-1001', amount: '5000', currency: 'EUR', termMonths: '36' });
    expect(inputOf(fields, values)).toEqual({ input: { ...example, urgent: false }, errors: {} });
    expect(inputOf(fields, { ...values, notes: '["call first"]', urgent: true }).input).toMatchObject({
      notes: ['call first'],
      urgent: true,
    });
  });

  test('problems are named per field before anything is sent', () => {
    const { errors } = inputOf(fields, {
      customerId: 'X-1',
      amount: '0',
      currency: 'YEN',
      termMonths: '12.5',
      notes: '[oops',
    });
    expect(errors).toEqual({
      customerId: 'must match ^C-[0-9]{4}$',
      amount: 'must be more than 0',
      currency: 'must be one of EUR, USD, GBP, CHF',
      termMonths: 'must be a whole number',
      notes: 'is not valid JSON',
    });
    expect(inputOf(fields, {}).errors).toMatchObject({ customerId: 'is required', amount: 'is required' });
    expect(inputOf(fields, { amount: 'lots' }).errors.amount).toBe('must be a number');
  });

  test('a schema that is not an object with properties is one JSON field for the whole input', () => {
    const [f] = fieldsOf({ type: 'object' });
    expect(f).toMatchObject({ kind: 'json', name: '' });
    expect(inputOf([f!], { '': '{"a":1}' }).input).toEqual({ a: 1 });
    expect(inputOf([f!], { '': '[1]' }).errors).toEqual({ '': 'must be a JSON object' });
    expect(fieldsOf(undefined)).toEqual([]);
  });
});
