import { Code } from '../core/index.js';
import { substitute } from './substitution.js';

const scope = {
  input: { customer: 'C-1', amount: 25000, email: 'jane@example.com' },
  steps: { fetch: { output: { income: 5200, tags: ['a', 'b'] } } },
};

describe('parameter substitution', () => {
  test('a whole-string template keeps the value type; embedded templates interpolate', () => {
    const { value, log } = substitute(
      'score',
      {
        income: '${steps.fetch.output.income}',
        note: 'customer ${input.customer} asks ${input.amount}',
        first: '${steps.fetch.output.tags[0]}',
        fixed: 3,
      },
      scope,
    );
    expect(value).toEqual({ income: 5200, note: 'customer C-1 asks 25000', first: 'a', fixed: 3 });
    expect(log).toEqual([
      {
        stepId: 'score',
        path: '/income',
        template: '${steps.fetch.output.income}',
        source: 'steps.fetch.output.income',
        value: 5200,
      },
      { stepId: 'score', path: '/note', template: '${input.customer}', source: 'input.customer', value: 'C-1' },
      { stepId: 'score', path: '/note', template: '${input.amount}', source: 'input.amount', value: 25000 },
      {
        stepId: 'score',
        path: '/first',
        template: '${steps.fetch.output.tags[0]}',
        source: 'steps.fetch.output.tags[0]',
        value: 'a',
      },
    ]);
  });

  test('the log redacts personal data; the substituted value itself is intact', () => {
    const { value, log } = substitute('mail', { to: '${input.email}' }, scope);
    expect(value.to).toBe('jane@example.com');
    expect(log[0]!.value).toBe('[EMAIL]');
  });

  test('a value from a field named for personal data is withheld from the log, whatever it looks like', () => {
    const people = {
      input: {},
      steps: { customer: { output: { fullName: 'Maria Keller', nationalId: 'DE-84 221 907', country: 'DE' } } },
    };
    const { value, log } = substitute(
      'letter',
      {
        to: '${steps.customer.output.fullName}',
        note: 'id ${steps.customer.output.nationalId} in ${steps.customer.output.country}',
      },
      people,
    );
    expect(value).toEqual({ to: 'Maria Keller', note: 'id DE-84 221 907 in DE' });
    expect(log.map((l) => l.value)).toEqual(['[REDACTED]', '[REDACTED]', 'DE']);
  });

  test('a reference to nothing fails the step with the template named', () => {
    expect(() => substitute('x', { a: '${steps.missing.output.y}' }, scope)).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringContaining('${steps.missing.output.y}'),
      }),
    );
  });
});
