// lending/credit-risk: assesses a retail loan's credit risk from the
// customer's history and the affordability of the repayment.
import { fileURLToPath } from 'node:url';
import { runAgent } from '../../../mesh/index.js';

const tool = (tool: string) => ({
  $case: 'tool' as const,
  tool: { service: tool.startsWith('get-') ? 'banking/customer-records' : 'banking/loan-math', tool },
});

await runAgent({
  policy: fileURLToPath(new URL('./policy.json', import.meta.url)),
  // A regulated assessment: it runs its pre-approved playbook even when an LLM is configured.
  playbooksOnly: true,
  card: {
    name: 'lending/credit-risk',
    version: '1.0.0',
    purpose: 'Assess the credit risk of a retail loan.',
    description:
      'Scores a customer for a loan amount and term from credit history, missed payments and debt-to-income after the new repayment.',
    owner: 'team-credit-risk',
    policies: [
      {
        id: 'bank/responsible-lending',
        description: 'Debt-to-income at most 40 %',
        authority: 'corporate credit policy',
      },
    ],
    labels: { domain: 'retail-banking' },
    collaborators: { visibility: { names: ['banking/customer-records', 'banking/loan-math'] } },
    skills: [
      {
        id: 'assess-credit-risk',
        name: 'Assess credit risk',
        description: 'Credit score, risk band and debt-to-income for a customer and a loan in EUR.',
        tags: ['credit', 'risk', 'retail'],
        inputSchema: {
          type: 'object',
          required: ['customerId', 'amount', 'termMonths'],
          additionalProperties: false,
          properties: {
            customerId: { type: 'string', pattern: '^C-[0-9]{4}$' },
            amount: { type: 'number', exclusiveMinimum: 0 },
            termMonths: { type: 'integer', minimum: 6, maximum: 360 },
          },
        },
        outputSchema: { type: 'object', required: ['score', 'band'] },
        examples: [
          {
            title: 'A low-risk customer',
            text: 'Assess C-1001 for 5,000 EUR over 36 months',
            input: { customerId: 'C-1001', amount: 5000, termMonths: 36 },
          },
          {
            title: 'A thin file with missed payments',
            text: 'Assess C-1002 for 47,000 EUR over 60 months',
            input: { customerId: 'C-1002', amount: 47000, termMonths: 60 },
          },
        ],
      },
    ],
  },
  playbooks: {
    'assess-credit-risk': {
      goal: 'Credit risk of ${input.customerId} for ${input.amount} EUR over ${input.termMonths} months',
      steps: [
        {
          id: 'customer',
          description: 'read the customer profile',
          target: tool('get-customer'),
          arguments: { customerId: '${input.customerId}' },
        },
        {
          id: 'afford',
          description: 'payment and debt-to-income after the loan',
          target: tool('affordability'),
          arguments: {
            monthlyIncome: '${steps.customer.output.monthlyIncomeEur}',
            monthlyDebts: '${steps.customer.output.monthlyDebtsEur}',
            amount: '${input.amount}',
            termMonths: '${input.termMonths}',
          },
          dependsOn: ['customer'],
        },
        {
          id: 'score',
          description: 'score from history and debt-to-income',
          target: tool('risk-score'),
          arguments: {
            creditHistoryYears: '${steps.customer.output.creditHistoryYears}',
            missedPayments: '${steps.customer.output.missedPayments}',
            debtToIncome: '${steps.afford.output.debtToIncome}',
            monthlyPayment: '${steps.afford.output.monthlyPayment}',
          },
          dependsOn: ['customer', 'afford'],
          acceptance: { cel: ['output.score >= 0.0 && output.score <= 1000.0'] },
        },
      ],
      resultStepId: 'score',
    },
  },
});
