import { PlanStep, TaskPlan, type DeepPartial } from '../../gen/agentmesh/v1/plan.js';
import type { InventoryItem } from './inventory.js';
import { inventoryFromCards } from './inventory.js';
import { AgentCard, Lifecycle, ToolCard } from '../../gen/agentmesh/v1/card.js';
import { validatePlan } from './plan-validation.js';

const inventory: InventoryItem[] = inventoryFromCards(
  [
    AgentCard.fromPartial({
      name: 'lending/credit-risk',
      skills: [
        {
          id: 'assess',
          inputSchema: { type: 'object', required: ['customer'], properties: { customer: { type: 'object' } } },
        },
      ],
    }),
  ],
  [
    ToolCard.fromPartial({
      name: 'banking/customers',
      tools: [
        {
          name: 'get-customer',
          argumentsSchema: {
            type: 'object',
            required: ['customer_id'],
            additionalProperties: false,
            properties: { customer_id: { type: 'string', pattern: '^C[0-9]+$' } },
          },
        },
        {
          name: 'score',
          argumentsSchema: {
            type: 'object',
            required: ['income', 'age'],
            properties: { income: { type: 'number' }, age: { type: 'integer', minimum: 18 } },
          },
        },
      ],
    }),
  ],
);

const fetch: DeepPartial<PlanStep> = {
  id: 'fetch',
  target: { $case: 'tool', tool: { service: 'banking/customers', tool: 'get-customer' } },
  arguments: { customer_id: '${input.customer_id}' },
};
const score: DeepPartial<PlanStep> = {
  id: 'score',
  dependsOn: ['fetch'],
  target: { $case: 'tool', tool: { service: 'banking/customers', tool: 'score' } },
  arguments: { income: '${steps.fetch.output.income}', age: '${steps.fetch.output.age}' },
};
const plan = (...steps: DeepPartial<PlanStep>[]) => TaskPlan.fromPartial({ steps });
const tool = (name: string) => ({ $case: 'tool' as const, tool: { service: 'banking/customers', tool: name } });

describe('validatePlan', () => {
  test('a plan over tools and an agent, with templates at typed positions, is valid', () => {
    const assess = {
      id: 'assess',
      dependsOn: ['score'],
      target: { $case: 'agent' as const, agent: { agent: 'lending/credit-risk', skillId: 'assess' } },
      arguments: { customer: '${steps.fetch.output}' },
    };
    expect(
      validatePlan(TaskPlan.fromPartial({ steps: [fetch, score, assess], resultStepId: 'assess' }), inventory),
    ).toEqual([]);
  });

  test('a plan needs at least one step', () => {
    expect(validatePlan(plan(), inventory)).toEqual(['the plan has no steps']);
  });

  test('step ids are unique and well-formed', () => {
    const errors = validatePlan(
      plan(fetch, { ...fetch }, { ...fetch, id: 'Bad Id' }, { ...fetch, id: 'x'.repeat(64) }),
      inventory,
    );
    expect(errors).toContain('step id "fetch" is used more than once');
    expect(errors.filter((e) => e.includes('must match'))).toHaveLength(2);
  });

  test('every step needs a target', () => {
    expect(validatePlan(plan({ id: 'a' }), inventory)).toEqual([
      'step "a": has no target (exactly one of tool, agent, llm, human)',
    ]);
  });

  test('an unknown collaborator is named, with what its service offers', () => {
    const errors = validatePlan(
      plan(
        { id: 'a', target: tool('delete-customer') },
        { id: 'b', target: { $case: 'agent', agent: { agent: 'lending/fraud', skillId: 'check' } } },
      ),
      inventory,
    );
    expect(errors).toEqual([
      'step "a": tool "delete-customer" of "banking/customers" is not in the inventory (that service offers: get-customer, score)',
      'step "b": skill "check" of agent "lending/fraud" is not in the inventory',
    ]);
  });

  test('literal arguments are checked against the schema, naming the path', () => {
    const errors = validatePlan(
      plan(
        { id: 'a', target: tool('score'), arguments: { income: 'lots', age: 17 } },
        { id: 'b', target: tool('get-customer'), arguments: { customer_id: 'C1', extra: 1 } },
      ),
      inventory,
    );
    expect(errors).toEqual([
      'step "a": arguments/income: must be number',
      'step "a": arguments/age: must be >= 18',
      'step "b": arguments/extra: not allowed',
    ]);
    expect(validatePlan(plan({ id: 'a', target: tool('get-customer'), arguments: {} }), inventory)).toEqual([
      'step "a": arguments/customer_id: required',
    ]);
  });

  test('a whole-value template is a wildcard; text around a template is still checked', () => {
    expect(
      validatePlan(
        plan({ id: 'a', target: tool('score'), arguments: { income: '${input.income}', age: '${input.age}' } }),
        inventory,
      ),
    ).toEqual([]);
    expect(
      validatePlan(
        plan({ id: 'a', target: tool('get-customer'), arguments: { customer_id: 'X-${input.id}' } }),
        inventory,
      ),
    ).toEqual(['step "a": arguments/customer_id: must match pattern "^C[0-9]+$"']);
  });

  test('templates must name the input or an output of a (transitive) dependency', () => {
    const transitive = {
      id: 'c',
      dependsOn: ['score'],
      target: tool('get-customer'),
      arguments: { customer_id: '${steps.fetch.output.id}' },
    };
    expect(validatePlan(plan(fetch, score, transitive), inventory)).toEqual([]);
    const errors = validatePlan(
      plan(
        fetch,
        { ...score, dependsOn: [] },
        { id: 'c', target: tool('get-customer'), arguments: { customer_id: '${steps.nope.output.id}' } },
        { id: 'd', target: tool('get-customer'), arguments: { customer_id: '${customer.id}' } },
      ),
      inventory,
    );
    expect(errors).toEqual([
      'step "score": ${steps.fetch.output.income} refers to step "fetch", which is not among its dependencies (add it to depends_on)',
      'step "score": ${steps.fetch.output.age} refers to step "fetch", which is not among its dependencies (add it to depends_on)',
      'step "c": ${steps.nope.output.id} refers to unknown step "nope"',
      'step "d": ${customer.id} is not a template of the form ${input.<path>} or ${steps.<id>.output.<path>}',
    ]);
  });

  test('templates in llm and human prompts are checked too', () => {
    const errors = validatePlan(
      plan(fetch, { id: 'ask', target: { $case: 'human', human: { prompt: 'Approve ${steps.fetch.output.name}?' } } }),
      inventory,
    );
    expect(errors).toEqual([
      'step "ask": ${steps.fetch.output.name} refers to step "fetch", which is not among its dependencies (add it to depends_on)',
    ]);
  });

  test('an approval must be settleable: N > 1 needs choices, roles and scopes are names, the deadline is positive', () => {
    const human = (h: Record<string, unknown>) =>
      plan({ id: 'ok', target: { $case: 'human', human: { prompt: 'Approve?', ...h } } });
    expect(
      validatePlan(
        human({ approverRoles: ['loan-approver'], requiredApprovals: 2, choices: ['approve', 'decline'] }),
        inventory,
      ),
    ).toEqual([]);
    expect(validatePlan(human({ approverRoles: ['loan-approver'], requiredApprovals: 2 }), inventory)).toEqual([
      'step "ok": human step: required_approvals 2 needs choices (the first is what 2 people must give)',
    ]);
    expect(validatePlan(human({ approverRoles: [' '], approverScopes: [''] }), inventory)).toEqual([
      'step "ok": human step: approver_roles must be non-empty strings',
      'step "ok": human step: approver_scopes must be non-empty strings',
    ]);
    expect(validatePlan(human({ answerWithin: { seconds: 0, nanos: 0 } }), inventory)).toEqual([
      'step "ok": human step: answer_within must be positive',
    ]);
    expect(validatePlan(human({ answerWithin: { seconds: -5 } }), inventory)).toEqual([
      'step "ok": human step: answer_within must be positive',
    ]);
  });

  test('depends_on must name existing steps', () => {
    expect(validatePlan(plan({ ...fetch, dependsOn: ['ghost'] }), inventory)).toEqual([
      'step "fetch": depends_on names no step: "ghost"',
    ]);
  });

  test('a dependency cycle is named', () => {
    const a = { id: 'a', dependsOn: ['c'], target: tool('get-customer'), arguments: { customer_id: 'C1' } };
    const errors = validatePlan(
      plan(
        a,
        { ...a, id: 'b', dependsOn: ['a'] },
        { ...a, id: 'c', dependsOn: ['b'] },
        { ...a, id: 'd', dependsOn: ['d'] },
      ),
      inventory,
    );
    expect(errors).toEqual(['dependency cycle: a → c → b → a', 'dependency cycle: d → d']);
  });

  test('run_if and acceptance.cel must be valid CEL over their variables and name only dependencies', () => {
    const errors = validatePlan(
      plan(
        fetch,
        { ...score, runIf: 'steps.fetch.output.age >', acceptance: { cel: ['outptu.score > 1', 'output.score + 1'] } },
        { id: 'c', target: tool('get-customer'), arguments: { customer_id: 'C1' }, runIf: 'steps.score.output.ok' },
      ),
      inventory,
    );
    expect(errors).toEqual([
      'step "score": run_if "steps.fetch.output.age >" is not valid CEL: Unexpected token: EOF',
      'step "score": acceptance.cel "outptu.score > 1" is not valid CEL: Unknown variable: outptu',
      'step "score": acceptance.cel "output.score + 1" is not valid CEL: yields int, not bool',
      'step "c": run_if "steps.score.output.ok" refers to step "score", which is not among its dependencies (add it to depends_on)',
    ]);
    expect(
      validatePlan(
        plan(fetch, {
          ...score,
          runIf: 'input.amount > 1000',
          acceptance: { cel: ['output.score >= 0 && steps.fetch.output.age > 0'] },
        }),
        inventory,
      ),
    ).toEqual([]);
  });

  test('llm steps must name a configured model alias', () => {
    const llm = {
      id: 'sum',
      target: { $case: 'llm' as const, llm: { modelAlias: 'small', prompt: 'Summarise ${input.text}' } },
    };
    expect(validatePlan(plan(llm), inventory)).toEqual([
      'step "sum": llm model alias "small" is not configured (configured: none)',
    ]);
    expect(validatePlan(plan(llm), inventory, { llmAliases: ['small', 'large'] })).toEqual([]);
  });

  test('result_step_id must name a step, and schemas in the plan must compile', () => {
    const errors = validatePlan(
      TaskPlan.fromPartial({
        steps: [{ ...fetch, acceptance: { outputSchema: { type: 'no-such-type' } } }],
        resultStepId: 'final',
      }),
      inventory,
    );
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^step "fetch": acceptance.output_schema does not compile: /);
    expect(errors[1]).toBe('result_step_id names no step: "final"');
  });

  test('suspended and retired cards are not in the inventory', () => {
    const items = inventoryFromCards(
      [],
      [ToolCard.fromPartial({ name: 'a/b', lifecycle: Lifecycle.LIFECYCLE_SUSPENDED, tools: [{ name: 't' }] })],
    );
    expect(items).toEqual([]);
  });
});
