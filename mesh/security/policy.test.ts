import { authorize, parsePolicy } from './policy.js';
import { matchesSpiffePattern } from './spiffe-id.js';

const policy = parsePolicy(
  {
    service: 'lending/credit-risk',
    rules: [
      {
        methods: ['agentmesh.v1.AgentService/*'],
        callers: ['spiffe://{trust_domain}/ns/lending/sa/*'],
        scopes: ['task.write'],
      },
      { methods: ['agentmesh.v1.AgentService/GetAgentCard'], callers: ['*'], scopes: [] },
    ],
  },
  'td',
);

describe('authorization policy', () => {
  test('allows a matching caller with the scopes', () => {
    expect(
      authorize(policy, '/agentmesh.v1.AgentService/SendTask', {
        spiffeId: 'spiffe://td/ns/lending/sa/orchestrator',
        scopes: ['task.write'],
      }).allowed,
    ).toBe(true);
  });

  test.each([
    ['/agentmesh.v1.ToolService/InvokeTool', 'spiffe://td/ns/lending/sa/x', ['task.write'], 'no rule allows'],
    ['/agentmesh.v1.AgentService/SendTask', 'spiffe://td/ns/payments/sa/x', ['task.write'], 'is not allowed to call'],
    ['/agentmesh.v1.AgentService/SendTask', 'spiffe://other/ns/lending/sa/x', ['task.write'], 'is not allowed to call'],
    ['/agentmesh.v1.AgentService/SendTask', 'spiffe://td/ns/lending/sa/x', ['task.read'], 'lacks scope task.write'],
    ['/agentmesh.v1.AgentService/SendTask', undefined, ['task.write'], '(no workload identity)'],
  ])('denies %s from %s with %j', (path, spiffeId, scopes, reason) => {
    const d = authorize(policy, path, { spiffeId, scopes });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(reason);
  });

  test('"*" callers admit anyone holding a valid token', () => {
    expect(
      authorize(policy, '/agentmesh.v1.AgentService/GetAgentCard', { spiffeId: undefined, scopes: [] }).allowed,
    ).toBe(true);
  });

  test('invalid policy data is refused naming the place', () => {
    expect(() => parsePolicy({ service: 'x', rules: [] }, 'td')).toThrow('invalid policy at service');
    expect(() => parsePolicy({ service: 'a/b', rules: [{ methods: ['Send Task'], callers: ['*'] }] }, 'td')).toThrow(
      'rules.0.methods.0',
    );
  });

  test('SPIFFE patterns match whole segments only', () => {
    expect(matchesSpiffePattern('spiffe://td/ns/a/sa/*', 'spiffe://td/ns/a/sa/b')).toBe(true);
    expect(matchesSpiffePattern('spiffe://td/ns/a/sa/*', 'spiffe://td/ns/a/sa/b/c')).toBe(false);
    expect(matchesSpiffePattern('spiffe://td/ns/*/sa/b', 'spiffe://td/ns/ab/sa/b')).toBe(true);
    expect(matchesSpiffePattern('spiffe://td/ns/a*/sa/b', 'spiffe://td/ns/ab/sa/b')).toBe(false);
  });
});
