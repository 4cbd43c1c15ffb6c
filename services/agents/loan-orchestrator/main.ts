// lending/loan-orchestrator: pre-qualifies a retail loan by reading the
// customer and converting the amount, asking the credit-risk and compliance
// agents in parallel, asking a loan approver (never the person who asked)
// when the case is not clear-cut, and applying the decision rules.
// Offline it follows its playbook; with OPENAI_API_KEY set it plans with the LLM.
import { fileURLToPath } from 'node:url';
import { runAgent } from '../../../mesh/index.js';

const math = (tool: string) => ({ $case: 'tool' as const, tool: { service: 'banking/loan-math', tool } });
const records = (tool: string) => ({ $case: 'tool' as const, tool: { service: 'banking/customer-records', tool } });
const agent = (name: string, skillId: string) => ({ $case: 'agent' as const, agent: { agent: name, skillId } });
const NEEDS_A_PERSON =
  "steps.compliance.output.verdict != 'blocked' && (steps.risk.output.band != 'low' || steps.fx.output.amount > 25000.0 || steps.compliance.output.verdict == 'review')";

// Four eyes, whoever plans: the playbook's approval step and any human step a model plans.
const APPROVERS = { approverRoles: ['loan-approver'], answerWithin: { seconds: 24 * 60 * 60, nanos: 0 } };

await runAgent({
  policy: fileURLToPath(new URL('./policy.json', import.meta.url)),
  modelApprovals: APPROVERS,
  card: {
    name: 'lending/loan-orchestrator',
    version: '1.0.0',
    purpose: 'Pre-qualify retail loans end to end.',
    description:
      'Reads the customer, converts the requested amount to EUR, gets a credit-risk assessment and a compliance verdict, asks a loan approver (never the person who asked) when the case is not clear-cut, and decides.',
    owner: 'team-lending',
    policies: [
      {
        id: 'bank/responsible-lending',
        description: 'Debt-to-income at most 40 %',
        authority: 'corporate credit policy',
      },
      {
        id: 'bank/four-eyes',
        description: 'Loans over 25,000 EUR or not low-risk need a person',
        authority: 'corporate credit policy',
      },
    ],
    labels: { domain: 'retail-banking' },
    model: { provider: 'openai', model: 'gpt-4o-mini' },
    collaborators: { visibility: { namespaces: ['banking'], names: ['lending/credit-risk', 'lending/compliance'] } },
    skills: [
      {
        id: 'prequalify-loan',
        name: 'Pre-qualify a loan',
        description:
          'Pre-qualification decision for a customer, amount, currency and term, with a loan officer in the loop when needed.',
        tags: ['lending', 'retail', 'loan'],
        inputSchema: {
          type: 'object',
          required: ['customerId', 'amount', 'currency', 'termMonths'],
          additionalProperties: false,
          properties: {
            customerId: { type: 'string', pattern: '^C-[0-9]{4}$' },
            amount: { type: 'number', exclusiveMinimum: 0, maximum: 1000000 },
            currency: { enum: ['EUR', 'USD', 'GBP', 'CHF'] },
            termMonths: { type: 'integer', minimum: 6, maximum: 360 },
          },
        },
        outputSchema: { type: 'object', required: ['decision', 'reasons'] },
        examples: [
          {
            title: 'Completes on its own: low risk, small amount',
            text: 'Pre-qualify C-1001 for 5,000 EUR over 36 months',
            input: { customerId: 'C-1001', amount: 5000, currency: 'EUR', termMonths: 36 },
          },
          {
            title: 'Stops for a loan officer: 40,000 GBP, missed payments',
            text: 'Pre-qualify C-1002 for 40,000 GBP over 60 months',
            input: { customerId: 'C-1002', amount: 40000, currency: 'GBP', termMonths: 60 },
          },
          {
            title: 'Declined without a person: sanctions hit',
            text: 'Pre-qualify C-1004 for 20,000 USD over 48 months',
            input: { customerId: 'C-1004', amount: 20000, currency: 'USD', termMonths: 48 },
          },
        ],
      },
    ],
  },
  playbooks: {
    'prequalify-loan': {
      goal: 'Pre-qualify ${input.amount} ${input.currency} over ${input.termMonths} months for ${input.customerId}',
      steps: [
        {
          id: 'customer',
          description: 'the customer exists and is known to the bank (an unknown one stops here)',
          target: records('get-customer'),
          arguments: { customerId: '${input.customerId}' },
        },
        {
          id: 'fx',
          description: 'the amount in EUR',
          target: math('convert'),
          arguments: { amount: '${input.amount}', from: '${input.currency}', to: 'EUR' },
        },
        {
          id: 'risk',
          description: 'credit risk from the specialist agent',
          target: agent('lending/credit-risk', 'assess-credit-risk'),
          arguments: {
            customerId: '${input.customerId}',
            amount: '${steps.fx.output.amount}',
            termMonths: '${input.termMonths}',
          },
          dependsOn: ['customer', 'fx'],
        },
        {
          id: 'compliance',
          description: 'KYC and sanctions verdict from the compliance agent',
          target: agent('lending/compliance', 'check-compliance'),
          arguments: { customerId: '${input.customerId}', amount: '${steps.fx.output.amount}' },
          dependsOn: ['customer', 'fx'],
        },
        {
          id: 'approval',
          description:
            'a loan approver other than the person who asked decides cases that are not clear-cut (four eyes)',
          target: {
            $case: 'human',
            human: {
              prompt:
                'Approve a loan of ${steps.fx.output.amount} EUR for customer ${input.customerId} (${steps.customer.output.country}, ${steps.customer.output.creditHistoryYears} years of credit history)? Credit risk: ${steps.risk.output.band} (score ${steps.risk.output.score}); compliance: ${steps.compliance.output.verdict}.',
              choices: ['approve', 'decline'],
              // Only a loan approver answers, never the person who asked (segregation of duties);
              // a case left unanswered for a day fails rather than waiting for ever.
              ...APPROVERS,
            },
          },
          runIf: NEEDS_A_PERSON,
          dependsOn: ['risk', 'compliance'],
        },
        {
          id: 'decision',
          description: 'apply the decision rules',
          target: math('decide'),
          arguments: {
            amountEur: '${steps.fx.output.amount}',
            riskBand: '${steps.risk.output.band}',
            complianceVerdict: '${steps.compliance.output.verdict}',
            approval: '${steps.approval.output}',
          },
          dependsOn: ['approval'],
        },
      ],
      resultStepId: 'decision',
    },
  },
});
