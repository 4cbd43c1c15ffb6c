// lending/compliance: the KYC, sanctions and PEP checks a loan needs before
// anyone may pre-qualify it.
import { fileURLToPath } from 'node:url';
import { runAgent } from '../../../mesh/index.js';

await runAgent({
  policy: fileURLToPath(new URL('./policy.json', import.meta.url)),
  // A regulated assessment: it runs its pre-approved playbook even when an LLM is configured.
  playbooksOnly: true,
  card: {
    name: 'lending/compliance',
    version: '1.0.0',
    purpose: 'Check a loan applicant against KYC, sanctions and PEP policies.',
    description: 'Screens the customer and answers clear, review (a person must look) or blocked, with the reasons.',
    owner: 'team-compliance',
    policies: [
      { id: 'bank/kyc-2024', description: 'KYC and sanctions screening standard', authority: 'corporate compliance' },
    ],
    labels: { domain: 'retail-banking' },
    collaborators: {
      visibility: { names: ['banking/customer-records'] },
      characteristics: { policies: ['bank/kyc-2024'] },
    },
    skills: [
      {
        id: 'check-compliance',
        name: 'Check compliance',
        description: 'KYC completeness, sanctions lists and politically exposed persons for a loan applicant.',
        tags: ['kyc', 'aml', 'sanctions'],
        inputSchema: {
          type: 'object',
          required: ['customerId'],
          additionalProperties: false,
          properties: {
            customerId: { type: 'string', pattern: '^C-[0-9]{4}$' },
            amount: { type: 'number', minimum: 0 },
          },
        },
        outputSchema: { type: 'object', required: ['verdict', 'reasons'] },
        examples: [
          { title: 'A clear applicant', text: 'Check C-1001', input: { customerId: 'C-1001', amount: 5000 } },
          { title: 'Incomplete KYC', text: 'Check C-1003', input: { customerId: 'C-1003', amount: 12000 } },
        ],
      },
    ],
  },
  playbooks: {
    'check-compliance': {
      goal: 'Compliance verdict for ${input.customerId}',
      steps: [
        {
          id: 'screen',
          description: 'KYC, sanctions and PEP screening',
          target: { $case: 'tool', tool: { service: 'banking/customer-records', tool: 'screen-customer' } },
          arguments: { customerId: '${input.customerId}' },
          acceptance: { cel: ["output.verdict in ['clear', 'review', 'blocked']"] },
        },
      ],
    },
  },
});
