// banking/loan-math: FX conversion, affordability, a credit score and the
// final pre-qualification decision rules, as deterministic tools.
import { fileURLToPath } from 'node:url';
import { runToolService, type ToolSpec } from '../../../mesh/index.js';
import { Code, MeshError } from '../../../mesh/index.js';

// Reference rates per EUR (fixed for the example; a real service reads a market data feed).
const PER_EUR: Record<string, number> = { EUR: 1, USD: 1.08, GBP: 0.85, CHF: 0.95 };
const RATES_AS_OF = '2026-11-23';
const ANNUAL_RATE_PCT = 6.5;
const round2 = (n: number) => Math.round(n * 100) / 100;
const currency = { enum: Object.keys(PER_EUR) };
const money = { type: 'number', minimum: 0 };

/** The annuity payment of a loan: amount over termMonths at the annual rate. */
function monthlyPayment(amount: number, termMonths: number, annualRatePct: number): number {
  const r = annualRatePct / 100 / 12;
  return r === 0 ? amount / termMonths : (amount * r) / (1 - (1 + r) ** -termMonths);
}

const tools: ToolSpec[] = [
  {
    name: 'convert',
    description: 'Converts an amount between currencies at the reference rate of the day.',
    argumentsSchema: {
      type: 'object',
      required: ['amount', 'from', 'to'],
      additionalProperties: false,
      properties: { amount: money, from: currency, to: currency },
    },
    resultSchema: { type: 'object', required: ['amount', 'currency', 'rate'] },
    tags: ['fx'],
    idempotent: true,
    examples: [{ title: '40,000 GBP in EUR', input: { amount: 40000, from: 'GBP', to: 'EUR' } }],
    handler: async (args) => {
      const rate = PER_EUR[String(args.to)]! / PER_EUR[String(args.from)]!;
      return {
        amount: round2(Number(args.amount) * rate),
        currency: args.to,
        rate: Math.round(rate * 1e6) / 1e6,
        asOf: RATES_AS_OF,
      };
    },
  },
  {
    name: 'affordability',
    description: 'Monthly payment of a loan and the debt-to-income ratio it would leave.',
    argumentsSchema: {
      type: 'object',
      required: ['monthlyIncome', 'monthlyDebts', 'amount', 'termMonths'],
      additionalProperties: false,
      properties: {
        monthlyIncome: money,
        monthlyDebts: money,
        amount: money,
        termMonths: { type: 'integer', minimum: 6, maximum: 360 },
      },
    },
    resultSchema: { type: 'object', required: ['monthlyPayment', 'debtToIncome', 'affordable'] },
    tags: ['affordability', 'credit'],
    idempotent: true,
    examples: [
      {
        title: '5,000 over 36 months',
        input: { monthlyIncome: 5200, monthlyDebts: 400, amount: 5000, termMonths: 36 },
      },
    ],
    handler: async (args) => {
      const income = Number(args.monthlyIncome);
      if (income <= 0) throw new MeshError(Code.INVALID_ARGUMENT, 'monthlyIncome: must be positive');
      const payment = monthlyPayment(Number(args.amount), Number(args.termMonths), ANNUAL_RATE_PCT);
      const dti = (Number(args.monthlyDebts) + payment) / income;
      return {
        monthlyPayment: round2(payment),
        debtToIncome: round2(dti),
        affordable: dti <= 0.4,
        annualRatePct: ANNUAL_RATE_PCT,
      };
    },
  },
  {
    name: 'risk-score',
    description: 'A credit score (0-1000) and risk band (low, medium, high) from credit history and debt-to-income.',
    argumentsSchema: {
      type: 'object',
      required: ['creditHistoryYears', 'missedPayments', 'debtToIncome'],
      additionalProperties: false,
      properties: {
        creditHistoryYears: { type: 'number', minimum: 0 },
        missedPayments: { type: 'integer', minimum: 0 },
        debtToIncome: { type: 'number', minimum: 0 },
        monthlyPayment: money,
      },
    },
    resultSchema: {
      type: 'object',
      required: ['score', 'band', 'reasons'],
      properties: { band: { enum: ['low', 'medium', 'high'] } },
    },
    tags: ['credit', 'risk'],
    idempotent: true,
    examples: [
      { title: 'A long, clean history', input: { creditHistoryYears: 12, missedPayments: 0, debtToIncome: 0.11 } },
    ],
    handler: async (args) => {
      const years = Number(args.creditHistoryYears);
      const missed = Number(args.missedPayments);
      const dti = Number(args.debtToIncome);
      const reasons: string[] = [];
      let score = 600 + Math.min(years, 15) * 15 - missed * 90 - Math.max(0, dti - 0.2) * 600;
      if (years < 5) reasons.push(`short credit history (${years} years)`);
      if (missed > 0) reasons.push(`${missed} missed payments`);
      if (dti > 0.35) reasons.push(`high debt-to-income (${dti})`);
      score = Math.max(0, Math.min(1000, Math.round(score)));
      const band = score >= 700 ? 'low' : score >= 550 ? 'medium' : 'high';
      return {
        score,
        band,
        reasons,
        debtToIncome: dti,
        ...(args.monthlyPayment !== undefined ? { monthlyPayment: args.monthlyPayment } : {}),
      };
    },
  },
  {
    name: 'decide',
    description:
      "The pre-qualification decision from risk band, compliance verdict and, where one was needed, a person's approval.",
    argumentsSchema: {
      type: 'object',
      required: ['amountEur', 'riskBand', 'complianceVerdict'],
      additionalProperties: false,
      properties: {
        amountEur: money,
        riskBand: { enum: ['low', 'medium', 'high'] },
        complianceVerdict: { enum: ['clear', 'review', 'blocked'] },
        approval: { enum: ['approve', 'decline', null] },
      },
    },
    resultSchema: {
      type: 'object',
      required: ['decision', 'reasons'],
      properties: { decision: { enum: ['pre-qualified', 'declined'] } },
    },
    tags: ['decision'],
    idempotent: true,
    examples: [
      { title: 'A clear, low-risk case', input: { amountEur: 5000, riskBand: 'low', complianceVerdict: 'clear' } },
    ],
    handler: async (args) => {
      const reasons: string[] = [];
      if (args.complianceVerdict === 'blocked') reasons.push('compliance blocked the customer');
      if (args.approval === 'decline') reasons.push('declined by the reviewer');
      if (args.riskBand === 'high' && args.approval !== 'approve') reasons.push('high credit risk without approval');
      // Four eyes, whatever plan called this: a case that is not clear-cut needs a person's answer.
      const needsPerson =
        args.complianceVerdict !== 'blocked' &&
        (args.riskBand !== 'low' || Number(args.amountEur) > 25_000 || args.complianceVerdict === 'review');
      if (needsPerson && args.approval !== 'approve' && args.approval !== 'decline')
        reasons.push("needs a loan approver's answer (four eyes) and has none");
      const decision = reasons.length ? 'declined' : 'pre-qualified';
      if (!reasons.length)
        reasons.push(
          args.approval === 'approve'
            ? 'approved by the reviewer'
            : 'low risk, compliance clear, within the automatic limit',
        );
      return { decision, reasons, amountEur: args.amountEur };
    },
  },
];

await runToolService(
  {
    name: 'banking/loan-math',
    version: '1.0.0',
    purpose: 'FX conversion, affordability, credit scoring and decision rules for retail loans.',
    owner: 'team-lending-platform',
    policies: [
      {
        id: 'bank/responsible-lending',
        description: 'Debt-to-income at most 40 %',
        authority: 'corporate credit policy',
      },
    ],
    labels: { domain: 'retail-banking' },
  },
  tools,
  { policy: fileURLToPath(new URL('./policy.json', import.meta.url)) },
);
