import { AgentCard, ToolCard } from '../../gen/agentmesh/v1/card.js';
import { Code } from '../core/index.js';
import { validateAgentCard, validateToolCard } from './card-validation.js';

const card = (over: Partial<Parameters<typeof AgentCard.fromPartial>[0]> = {}) =>
  AgentCard.fromPartial({
    name: 'lending/credit-risk',
    version: '1.0.0',
    purpose: 'Assess credit risk',
    owner: 'team-risk',
    identity: 'spiffe://agentmesh.local/ns/lending/sa/credit-risk',
    skills: [
      {
        id: 'assess',
        description: 'Assess',
        inputSchema: { type: 'object', properties: { income: { type: 'number' } } },
      },
    ],
    ...over,
  });

describe('card validation', () => {
  test('a complete card passes', () => {
    expect(validateAgentCard(card()).name).toBe('lending/credit-risk');
  });

  test.each([
    [{ name: 'Lending/Credit' }, 'card.name'],
    [{ name: 'credit-risk' }, 'card.name'],
    [{ version: '1.0' }, 'card.version'],
    [{ purpose: ' ' }, 'card.purpose'],
    [{ identity: 'spiffe://agentmesh.local/ns/lending/sa/other' }, 'card.identity: names lending/other'],
    [{ identity: 'https://x' }, 'card.identity'],
    [{ owner: '' }, 'card.owner'],
    [{ skills: [] }, 'card.skills'],
    [
      {
        skills: [
          { id: 'a', description: 'x' },
          { id: 'a', description: 'y' },
        ],
      },
      'card.skills[1]: duplicate id a',
    ],
    [
      { skills: [{ id: 'a', description: 'x', inputSchema: { type: 'nonsense' } }] },
      'card.skills[0].input_schema: not a valid JSON Schema',
    ],
  ])('%j is INVALID_ARGUMENT naming %s', (over, field) => {
    expect(() => validateAgentCard(card(over))).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining(field) }),
    );
  });

  test('tool cards need tools with valid schemas', () => {
    const tool = ToolCard.fromPartial({
      name: 'banking/customer-records',
      version: '0.3.1',
      purpose: 'Customer records',
      owner: 'team-data',
      identity: 'spiffe://agentmesh.local/ns/banking/sa/customer-records',
      tools: [
        { name: 'get-customer', description: 'Fetch a customer', argumentsSchema: { type: 'object', required: 'id' } },
      ],
    });
    expect(() => validateToolCard(tool)).toThrow('card.tools[0].arguments_schema');
  });
});

describe('schema check cache', () => {
  const withSchema = (inputSchema: Record<string, unknown>) =>
    card({ skills: [{ id: 'assess', description: 'Assess', inputSchema }] });

  test('a schema that once compiled passes again, and an invalid one is refused every time', () => {
    const good = { $id: 'https://example.test/assess', type: 'object', properties: { n: { type: 'number' } } };
    // Twice, and a third time after a refusal: the cached answer holds, a $id does not collide.
    expect(() => validateAgentCard(withSchema(good))).not.toThrow();
    expect(() => validateAgentCard(withSchema(good))).not.toThrow();
    const bad = { type: 'object', properties: { n: { type: 'no-such-type' } } };
    for (let i = 0; i < 2; i++)
      expect(() => validateAgentCard(withSchema(bad))).toThrow(
        expect.objectContaining({ code: Code.INVALID_ARGUMENT }),
      );
    expect(() => validateAgentCard(withSchema(good))).not.toThrow();
  });
});
