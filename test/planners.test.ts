import OpenAI from 'openai';
import { AgentCard, ToolCard } from '../gen/agentmesh/v1/card.js';
import { PlannerKind } from '../gen/agentmesh/v1/plan.js';
import { inventoryFromCards } from '../mesh/runtime/inventory.js';
import { LlmPlanner, type ModelApprovals } from '../mesh/runtime/llm-planner.js';
import { validatePlan } from '../mesh/runtime/plan-validation.js';
import { planningRecordOf, type PlanningInput } from '../mesh/runtime/planner.js';
import { PlaybookPlanner } from '../mesh/runtime/playbook-planner.js';
import { Code, MeshError } from '../mesh/core/errors.js';
import { OpenAiDouble } from './helpers/openai-double.js';

const inventory = inventoryFromCards(
  [
    AgentCard.fromPartial({
      name: 'lending/credit-risk',
      skills: [
        { id: 'assess', description: 'Assesses credit risk', inputSchema: { type: 'object', required: ['customer'] } },
      ],
    }),
  ],
  [
    ToolCard.fromPartial({
      name: 'banking/customers',
      tools: [
        {
          name: 'get-customer',
          description: 'Reads a customer record',
          argumentsSchema: {
            type: 'object',
            required: ['customer_id'],
            properties: { customer_id: { type: 'string' } },
          },
        },
      ],
    }),
  ],
);
const request: PlanningInput = {
  taskId: 'task-1',
  skillId: 'loan-check',
  text: 'Check whether customer C42 can get a loan',
  input: { customer_id: 'C42' },
  inventory,
};

const fetch = {
  id: 'fetch',
  tool: { service: 'banking/customers', tool: 'get-customer' },
  arguments: { customer_id: '${input.customer_id}' },
};
const assess = {
  id: 'assess',
  depends_on: ['fetch'],
  agent: { agent: 'lending/credit-risk', skill_id: 'assess' },
  arguments: { customer: '${steps.fetch.output}' },
};
const answer = (...steps: object[]) =>
  JSON.stringify({ goal: 'Decide on the loan', steps, result_step_id: steps.length > 1 ? 'assess' : undefined });
const validPlan = answer(fetch, assess);

const rejection = (planner: { plan(i: PlanningInput): Promise<unknown> }, input = request) =>
  planner.plan(input).then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: MeshError) => err,
  );

describe('PlaybookPlanner', () => {
  const playbooks = {
    'loan-check': {
      id: 'loan-check-v1',
      goal: 'Loan check for ${input.customer_id}',
      steps: [
        {
          id: 'fetch',
          target: { $case: 'tool' as const, tool: { service: 'banking/customers', tool: 'get-customer' } },
          arguments: { customer_id: '${input.customer_id}' },
        },
        {
          id: 'assess',
          dependsOn: ['fetch'],
          target: { $case: 'agent' as const, agent: { agent: 'lending/credit-risk', skillId: 'assess' } },
          arguments: { customer: '${steps.fetch.output}' },
        },
      ],
    },
  };

  test('gives the skill playbook as a plan, templates left for the executor, with a record', async () => {
    const { plan, record } = await new PlaybookPlanner(playbooks).plan(request);
    expect(plan).toMatchObject({
      taskId: 'task-1',
      revision: 1,
      planner: PlannerKind.PLANNER_KIND_PLAYBOOK,
      playbookId: 'loan-check-v1',
      goal: 'Loan check for C42',
    });
    expect(plan.steps.map((s) => s.id)).toEqual(['fetch', 'assess']);
    expect(plan.steps[0]!.arguments).toEqual({ customer_id: '${input.customer_id}' });
    expect(record).toMatchObject({ planner: PlannerKind.PLANNER_KIND_PLAYBOOK, playbookId: 'loan-check-v1' });
    expect(record.attempts).toHaveLength(1);
    expect(JSON.parse(record.attempts[0]!.rawOutput)).toMatchObject({
      planId: plan.planId,
      steps: [{ id: 'fetch' }, { id: 'assess' }],
    });
  });

  test('an unknown skill is INVALID_ARGUMENT', async () => {
    const err = await rejection(new PlaybookPlanner(playbooks), { ...request, skillId: 'mortgage' });
    expect(err).toMatchObject({ code: Code.INVALID_ARGUMENT, message: 'unknown skill "mortgage"' });
  });

  test('a collaborator out of scope is FAILED_PRECONDITION naming it, with the record attached', async () => {
    const err = await rejection(new PlaybookPlanner(playbooks), {
      ...request,
      inventory: inventory.filter((i) => i.kind === 'tool'),
    });
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toBe(
      'no valid plan: playbook "loan-check-v1": step "assess": skill "assess" of agent "lending/credit-risk" is not in the inventory',
    );
    expect(planningRecordOf(err)?.attempts[0]?.validationErrors).toHaveLength(1);
  });
});

describe('LlmPlanner against the OpenAI double', () => {
  let double: OpenAiDouble;
  const planner = (options: { maxAttempts?: number; apiKey?: string; approvals?: ModelApprovals } = {}) =>
    new LlmPlanner({
      client: new OpenAI({ baseURL: double.baseURL, apiKey: options.apiKey ?? double.apiKey, maxRetries: 0 }),
      model: 'planner-model',
      maxAttempts: options.maxAttempts,
      approvals: options.approvals,
    });
  afterEach(async () => double.close());

  test('a valid plan is accepted on the first attempt, usage and prompt recorded', async () => {
    double = await OpenAiDouble.start({
      answers: [{ content: validPlan, usage: { prompt_tokens: 812, completion_tokens: 96 } }],
    });
    const { plan, record } = await planner().plan(request);
    expect(plan).toMatchObject({
      taskId: 'task-1',
      planner: PlannerKind.PLANNER_KIND_LLM,
      model: 'planner-model',
      goal: 'Decide on the loan',
      resultStepId: 'assess',
    });
    expect(plan.steps[1]).toMatchObject({
      id: 'assess',
      dependsOn: ['fetch'],
      target: { $case: 'agent', agent: { agent: 'lending/credit-risk', skillId: 'assess' } },
    });
    expect(record).toMatchObject({ planner: PlannerKind.PLANNER_KIND_LLM, model: 'planner-model' });
    expect(record.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        rawOutput: validPlan,
        validationErrors: [],
        usage: { promptTokens: 812, completionTokens: 96 },
      }),
    ]);
    expect(JSON.parse(record.attempts[0]!.prompt)).toEqual(double.requests[0]!.body.messages);
    const sent = double.requests[0]!.body;
    expect(sent.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'task_plan', strict: false },
    });
    const prompt = sent.messages.map((m) => m.content).join('\n');
    for (const name of [
      'banking/customers',
      'get-customer',
      'lending/credit-risk',
      'assess',
      'Reads a customer record',
      request.text,
      '"customer_id":"C42"',
    ])
      expect(prompt).toContain(name);
  });

  test('unparsable JSON is re-asked with the error, and both attempts are recorded', async () => {
    double = await OpenAiDouble.start({ answers: ['Here is your plan: {steps: [', validPlan] });
    const { plan, record } = await planner().plan(request);
    expect(plan.steps).toHaveLength(2);
    expect(record.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(record.attempts[0]!.validationErrors[0]).toMatch(/^the answer is not JSON: /);
    const retry = double.requests[1]!.body.messages;
    expect(retry.slice(-2)).toEqual([
      { role: 'assistant', content: 'Here is your plan: {steps: [' },
      expect.objectContaining({ role: 'user' }),
    ]);
    expect(retry.at(-1)!.content).toContain('the answer is not JSON');
  });

  test('an unknown tool is re-asked with the inventory error', async () => {
    double = await OpenAiDouble.start({
      answers: [answer({ ...fetch, tool: { service: 'banking/customers', tool: 'delete-customer' } }), validPlan],
    });
    const { record } = await planner().plan(request);
    expect(record.attempts[0]!.validationErrors).toEqual([
      'step "fetch": tool "delete-customer" of "banking/customers" is not in the inventory (that service offers: get-customer)',
    ]);
    expect(double.requests[1]!.body.messages.at(-1)!.content).toContain(
      '"delete-customer" of "banking/customers" is not in the inventory',
    );
    expect(record.attempts[1]!.validationErrors).toEqual([]);
  });

  test('a cycle three times fails FAILED_PRECONDITION with the reasons and three recorded attempts', async () => {
    const cyclic = answer({ ...fetch, depends_on: ['assess'] }, assess);
    double = await OpenAiDouble.start({ answers: [cyclic, cyclic, cyclic, validPlan] });
    const err = await rejection(planner());
    expect(err).toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: 'no valid plan: dependency cycle: fetch → assess → fetch',
    });
    const record = planningRecordOf(err)!;
    expect(record.attempts).toHaveLength(3);
    for (const a of record.attempts) expect(a.validationErrors).toEqual(['dependency cycle: fetch → assess → fetch']);
    expect(double.requests).toHaveLength(3);
  });

  test('an endpoint without json_schema answers 400; the planner falls back to json_object', async () => {
    double = await OpenAiDouble.start({ rejectJsonSchema: true, answers: [validPlan, validPlan] });
    const p = planner();
    const { record } = await p.plan(request);
    expect(record.attempts).toHaveLength(1);
    expect(double.requests.map((r) => [r.body.response_format?.type, r.status])).toEqual([
      ['json_schema', 400],
      ['json_object', 200],
    ]);
    await p.plan(request);
    expect(double.requests.at(-1)!.body.response_format?.type).toBe('json_object');
    expect(double.requests).toHaveLength(3);
  });

  test('a wrong API key (401) is FAILED_PRECONDITION, not a planning attempt', async () => {
    double = await OpenAiDouble.start({ answers: [validPlan] });
    const err = await rejection(planner({ apiKey: 'sk-wrong' }));
    expect(err).toMatchObject({ code: Code.FAILED_PRECONDITION, message: 'LLM endpoint refused the request (401)' });
    expect(planningRecordOf(err)).toBeUndefined();
  });

  test('two targets in one step are refused rather than silently dropped', async () => {
    double = await OpenAiDouble.start({
      answers: [answer({ ...fetch, agent: { agent: 'lending/credit-risk', skill_id: 'assess' } }), validPlan],
    });
    const { record } = await planner().plan(request);
    expect(record.attempts[0]!.validationErrors).toEqual([
      'step "fetch": has 2 targets (tool, agent); give exactly one',
    ]);
  });

  test("retry and timeout sent by the model are dropped: they are the agent's policy", async () => {
    double = await OpenAiDouble.start({
      answers: [answer({ ...fetch, retry: { max_attempts: 100 }, timeout: '3600s' })],
    });
    const { plan } = await planner().plan(request);
    expect(plan.steps[0]).toMatchObject({ retry: undefined, timeout: undefined });
  });

  test("a model's human step gets the agent's approvers; approvers and self-approval the model writes are replaced", async () => {
    // A request's text talked the model into naming approvers and allowing self-approval: neither may stand.
    const human = {
      id: 'approve',
      human: {
        prompt: 'Approve?',
        choices: ['approve', 'decline'],
        approver_roles: ['anyone'],
        allow_self_approval: true,
      },
    };
    double = await OpenAiDouble.start({ answers: [answer(human), answer(human)] });
    const governed = await planner({ approvals: { approverRoles: ['loan-approver'], requiredApprovals: 2 } }).plan(
      request,
    );
    expect(governed.plan.steps[0]!.target).toEqual({
      $case: 'human',
      human: expect.objectContaining({
        approverRoles: ['loan-approver'],
        requiredApprovals: 2,
        allowSelfApproval: false,
      }),
    });
    // Without an approval rule of the agent's, a model's human step is a question to the task's subject.
    const question = await planner().plan(request);
    expect(question.plan.steps[0]!.target).toEqual({
      $case: 'human',
      human: expect.objectContaining({ approverRoles: [], approverScopes: [], allowSelfApproval: false }),
    });
  });

  test('an aborted signal stops planning with its reason', async () => {
    double = await OpenAiDouble.start({ answers: [validPlan] });
    const controller = new AbortController();
    controller.abort(new MeshError(Code.DEADLINE_EXCEEDED, 'deadline exceeded'));
    await expect(planner().plan(request, controller.signal)).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(double.requests).toHaveLength(0);
  });

  test('cancelling while the model is answering stops planning at once', async () => {
    // The model never answers within the test (its answer waits longer than jest's timeout; closing
    // the double ends the wait): planning ends only if the cancellation stops it.
    double = await OpenAiDouble.start({ answers: [validPlan], delayMs: 3_600_000 });
    const controller = new AbortController();
    const planning = planner().plan(request, controller.signal);
    // Cancelled once the request is with the model, however long the machine took to send it.
    while (double.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort(new MeshError(Code.CANCELLED, 'call cancelled'));
    await expect(planning).rejects.toMatchObject({
      code: Code.CANCELLED,
      message: 'call cancelled',
    });
    expect(double.requests).toHaveLength(1);
  });
});

// What holds for any model: run against a real OpenAI-compatible endpoint when
// AGENTMESH_TEST_OPENAI_BASE_URL is set, otherwise against the double answering a valid plan.
const real = {
  baseURL: process.env.AGENTMESH_TEST_OPENAI_BASE_URL,
  apiKey: process.env.AGENTMESH_TEST_OPENAI_API_KEY ?? '',
  model: process.env.AGENTMESH_TEST_OPENAI_MODEL ?? 'gpt-4o-mini',
};
test(`LlmPlanner against ${real.baseURL ? 'the real endpoint in AGENTMESH_TEST_OPENAI_BASE_URL' : 'the OpenAI double'} gives a valid plan or a recorded refusal`, async () => {
  const double = real.baseURL ? undefined : await OpenAiDouble.start({ answers: [{ content: validPlan }] });
  try {
    const client = new OpenAI({
      baseURL: real.baseURL ?? double!.baseURL,
      apiKey: real.baseURL ? real.apiKey : double!.apiKey,
    });
    const planner = new LlmPlanner({ client, model: real.model });
    const outcome = await planner.plan(request).catch((err: MeshError) => err);
    const record = outcome instanceof Error ? planningRecordOf(outcome) : outcome.record;
    expect(record?.model).toBe(real.model);
    for (const a of record?.attempts ?? []) expect(a.rawOutput.length + a.prompt.length).toBeGreaterThan(0);
    if (outcome instanceof Error) expect(record?.attempts).toHaveLength(3);
    else expect(validatePlan(outcome.plan, inventory)).toEqual([]);
    if (!real.baseURL) expect(outcome).not.toBeInstanceOf(Error);
  } finally {
    await double?.close();
  }
}, 180_000);
