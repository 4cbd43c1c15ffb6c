// banking/customer-records: the bank's customer master data (seeded, with
// realistic personal data) and KYC / sanctions screening, as tools.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runToolService, type ToolSpec } from '../../../mesh/index.js';
import { Code, MeshError } from '../../../mesh/index.js';

interface Customer {
  customerId: string;
  fullName: string;
  email: string;
  phone: string;
  nationalId: string;
  iban: string;
  country: string;
  monthlyIncomeEur: number;
  monthlyDebtsEur: number;
  creditHistoryYears: number;
  missedPayments: number;
  kycComplete: boolean;
  politicallyExposed: boolean;
  sanctionsHit: boolean;
}

const customers = new Map(
  (JSON.parse(readFileSync(new URL('./customers.json', import.meta.url), 'utf8')) as Customer[]).map((c) => [
    c.customerId,
    c,
  ]),
);

const customerId = { type: 'string', pattern: '^C-[0-9]{4}$', description: 'The customer number, e.g. C-1001' };

function find(id: string): Customer {
  const c = customers.get(id);
  if (!c) throw new MeshError(Code.NOT_FOUND, `customer ${id} not found`);
  return c;
}

const tools: ToolSpec[] = [
  {
    name: 'get-customer',
    description: 'Reads a customer profile: identity, contact data, income, debts and credit history.',
    argumentsSchema: {
      type: 'object',
      required: ['customerId'],
      additionalProperties: false,
      properties: { customerId },
    },
    resultSchema: {
      type: 'object',
      required: ['customerId', 'monthlyIncomeEur', 'monthlyDebtsEur', 'creditHistoryYears', 'missedPayments'],
    },
    tags: ['customer', 'kyc', 'pii'],
    idempotent: true,
    examples: [{ title: 'Read customer C-1001', input: { customerId: 'C-1001' } }],
    handler: async (args) => find(String(args.customerId)),
  },
  {
    name: 'screen-customer',
    description:
      'KYC and sanctions screening of a customer: clear, review (incomplete KYC, politically exposed) or blocked (sanctions).',
    argumentsSchema: {
      type: 'object',
      required: ['customerId'],
      additionalProperties: false,
      properties: { customerId, amount: { type: 'number', minimum: 0 } },
    },
    resultSchema: {
      type: 'object',
      required: ['verdict', 'reasons'],
      properties: {
        verdict: { enum: ['clear', 'review', 'blocked'] },
        reasons: { type: 'array', items: { type: 'string' } },
      },
    },
    tags: ['kyc', 'sanctions', 'aml'],
    idempotent: true,
    examples: [{ title: 'Screen customer C-1003', input: { customerId: 'C-1003' } }],
    handler: async (args) => {
      const c = find(String(args.customerId));
      const reasons: string[] = [];
      if (c.sanctionsHit) reasons.push('name matches a sanctions list entry');
      if (!c.kycComplete) reasons.push('KYC documentation incomplete');
      if (c.politicallyExposed) reasons.push('politically exposed person');
      const verdict = c.sanctionsHit ? 'blocked' : reasons.length ? 'review' : 'clear';
      return {
        customerId: c.customerId,
        verdict,
        reasons,
        kycComplete: c.kycComplete,
        sanctionsHit: c.sanctionsHit,
        politicallyExposed: c.politicallyExposed,
      };
    },
  },
];

await runToolService(
  {
    name: 'banking/customer-records',
    version: '1.0.0',
    purpose: 'Customer master data and KYC / sanctions screening for retail banking.',
    description:
      'Seeded example data with personal data (names, emails, phone numbers, national ids, IBANs) that must never reach logs.',
    owner: 'team-core-banking',
    policies: [
      { id: 'gdpr', description: 'Personal data processed for a contract', authority: 'EU' },
      { id: 'bank/kyc-2024', description: 'KYC and sanctions screening standard', authority: 'corporate compliance' },
    ],
    labels: { domain: 'retail-banking', data: 'pii' },
  },
  tools,
  { policy: fileURLToPath(new URL('./policy.json', import.meta.url)) },
);
