// The demo mesh with an LLM configured (OPENAI_API_KEY / OPENAI_BASE_URL, against the
// OpenAI-compatible double): the orchestrator plans with the model from the inventory in
// its scope, while the regulated specialists keep their pre-approved playbooks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenAiDouble } from './helpers/openai-double.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';

const ORCHESTRATOR = 'lending/loan-orchestrator';
const tool = (service: string, name: string) => ({ service, tool: name });
// What a model might answer: the four-eyes flow, in the plan schema the planner asks for.
const PLAN = {
  goal: 'Pre-qualify C-1001 for 5,000 EUR over 36 months',
  steps: [
    {
      id: 'customer',
      description: 'check the customer exists',
      tool: tool('banking/customer-records', 'get-customer'),
      arguments: { customerId: '${input.customerId}' },
    },
    {
      id: 'fx',
      description: 'amount in EUR',
      tool: tool('banking/loan-math', 'convert'),
      arguments: { amount: '${input.amount}', from: '${input.currency}', to: 'EUR' },
    },
    {
      id: 'risk',
      description: 'credit risk',
      agent: { agent: 'lending/credit-risk', skill_id: 'assess-credit-risk' },
      arguments: {
        customerId: '${input.customerId}',
        amount: '${steps.fx.output.amount}',
        termMonths: '${input.termMonths}',
      },
      depends_on: ['customer', 'fx'],
    },
    {
      id: 'compliance',
      description: 'compliance verdict',
      agent: { agent: 'lending/compliance', skill_id: 'check-compliance' },
      arguments: { customerId: '${input.customerId}', amount: '${steps.fx.output.amount}' },
      depends_on: ['customer', 'fx'],
    },
    {
      id: 'decision',
      description: 'decision rules',
      tool: tool('banking/loan-math', 'decide'),
      arguments: {
        amountEur: '${steps.fx.output.amount}',
        riskBand: '${steps.risk.output.band}',
        complianceVerdict: '${steps.compliance.output.verdict}',
        approval: null,
      },
      depends_on: ['risk', 'compliance'],
    },
  ],
  result_step_id: 'decision',
};

describe('the demo mesh with an LLM endpoint', () => {
  let home: string;
  let mesh: LocalMesh;
  let double: OpenAiDouble;

  beforeAll(async () => {
    double = await OpenAiDouble.start({
      answers: () => ({ content: JSON.stringify(PLAN), usage: { prompt_tokens: 1500, completion_tokens: 400 } }),
    });
    home = mkdtempSync(join(tmpdir(), 'agentmesh-llm-'));
    mesh = await startLocalMesh(home, { env: { OPENAI_API_KEY: double.apiKey, OPENAI_BASE_URL: double.baseURL } });
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await double?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('the orchestrator plans with the model over what is in its scope; the specialists run their playbooks', async () => {
    const r = await mesh.cli(['task', ORCHESTRATOR, '--example', '1', '--json']);
    expect(r.stderr).toBe('');
    const task = JSON.parse(r.stdout) as {
      id: string;
      status: { state: string };
      artifacts: { parts: { data: { decision: string } }[] }[];
    };
    expect(task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(task.artifacts[0]!.parts[0]!.data.decision).toBe('pre-qualified');

    const e = JSON.parse((await mesh.cli(['explain', task.id, '--json'])).stdout) as {
      plan: { planner: string; model: string };
      planning: { model: string; attempts: { prompt: string; usage: { promptTokens: number } }[] };
      children: { stepId: string; explanation?: { planning: { playbookId: string } } }[];
    };
    expect(e.plan).toMatchObject({ planner: 'PLANNER_KIND_LLM', model: 'gpt-4o-mini' });
    expect(e.planning.attempts[0]!.usage.promptTokens).toBe(1500);
    // Only the orchestrator asked the model, and it was shown the collaborators in its discovery scope.
    expect(double.requests.map((q) => q.body.model)).toEqual(['gpt-4o-mini']);
    const prompt = e.planning.attempts[0]!.prompt;
    for (const name of ['banking/customer-records', 'banking/loan-math', 'lending/credit-risk', 'lending/compliance'])
      expect(prompt).toContain(name);
    const playbooks = Object.fromEntries(e.children.map((c) => [c.stepId, c.explanation?.planning.playbookId]));
    expect(playbooks).toEqual({ risk: 'assess-credit-risk', compliance: 'check-compliance' });
  }, 60_000);
});
