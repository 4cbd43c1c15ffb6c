import { authorize } from '../security/index.js';
import { compileToolServiceOptions } from './run-tool-service.js';

describe('the built-in tool service policy', () => {
  const { service } = compileToolServiceOptions('banking/ledger', {}, {});
  const invoke = (caller: string, scopes: string[]) =>
    authorize(service.policy, '/agentmesh.v1.ToolService/InvokeTool', {
      spiffeId: `spiffe://agentmesh.local/ns/${caller}`,
      scopes,
    }).allowed;

  test('applies when no policy is named', () => expect(service.policySource).toBe('built-in default'));

  test("lets the service's own namespace invoke with tools.invoke, and nobody else", () => {
    expect(invoke('banking/sa/payments-agent', ['tools.invoke'])).toBe(true);
    expect(invoke('banking/sa/payments-agent', [])).toBe(false);
    expect(invoke('lending/sa/loan-orchestrator', ['tools.invoke'])).toBe(false);
    expect(invoke('agentmesh/sa/cli', ['tools.invoke'])).toBe(false);
  });

  test('a policy given in code replaces it', () => {
    const own = { service: 'banking/ledger', rules: [{ methods: ['*'], callers: ['*'], scopes: [] }] };
    expect(compileToolServiceOptions('banking/ledger', { policy: own }, {}).service.policy.rules).toEqual([
      { description: '', methods: ['*'], callers: ['*'], scopes: [] },
    ]);
  });
});
