import { authorize, parsePolicy } from './policy.js';

// One policy decides both bindings: what a rule grants on AgentService it grants on A2AService.
const policy = parsePolicy(
  {
    service: 'lending/loan-orchestrator',
    rules: [
      {
        methods: ['agentmesh.v1.AgentService/SendTask', 'agentmesh.v1.AgentService/CancelTask'],
        callers: ['spiffe://{trust_domain}/ns/agentmesh/sa/cli'],
        scopes: ['task.write'],
      },
      {
        methods: ['agentmesh.v1.AgentService/GetTask'],
        callers: ['spiffe://{trust_domain}/ns/agentmesh/sa/cli'],
        scopes: ['task.read'],
      },
      { methods: ['agentmesh.v1.AgentService/GetAgentCard'], callers: ['*'], scopes: [] },
    ],
  },
  'td',
);
const cli = 'spiffe://td/ns/agentmesh/sa/cli';
const a2a = (m: string) => `/lf.a2a.v1.A2AService/${m}`;

describe('A2A methods are granted by the AgentService methods they map to', () => {
  test('SendMessage and CancelTask need what SendTask and CancelTask need', () => {
    expect(authorize(policy, a2a('SendMessage'), { spiffeId: cli, scopes: ['task.write'] }).allowed).toBe(true);
    expect(authorize(policy, a2a('CancelTask'), { spiffeId: cli, scopes: ['task.write'] }).allowed).toBe(true);
    expect(authorize(policy, a2a('SendMessage'), { spiffeId: cli, scopes: ['task.read'] })).toEqual({
      allowed: false,
      reason: 'token lacks scope task.write for lf.a2a.v1.A2AService/SendMessage',
      requiredScopes: ['task.write'],
    });
  });

  test('a method whose AgentService counterpart no rule names stays denied', () => {
    // StreamTask, SubscribeTask and ListTasks are not granted: neither are their A2A forms.
    for (const m of ['SendStreamingMessage', 'SubscribeToTask', 'ListTasks'])
      expect(authorize(policy, a2a(m), { spiffeId: cli, scopes: ['task.write', 'task.read'] })).toEqual({
        allowed: false,
        reason: `no rule allows lf.a2a.v1.A2AService/${m}`,
      });
  });

  test('the extended card and the push-config answers follow GetAgentCard; callers keep their constraints', () => {
    expect(authorize(policy, a2a('GetExtendedAgentCard'), { spiffeId: undefined, scopes: [] }).allowed).toBe(true);
    expect(
      authorize(policy, a2a('CreateTaskPushNotificationConfig'), { spiffeId: undefined, scopes: [] }).allowed,
    ).toBe(true);
    expect(authorize(policy, a2a('GetTask'), { spiffeId: 'spiffe://td/ns/other/sa/x', scopes: ['task.read'] })).toEqual(
      {
        allowed: false,
        reason: 'caller spiffe://td/ns/other/sa/x is not allowed to call lf.a2a.v1.A2AService/GetTask',
      },
    );
  });

  test('AgentService/* grants A2AService/*; other services are untouched', () => {
    const wide = parsePolicy(
      {
        service: 'a/b',
        rules: [
          { methods: ['agentmesh.v1.AgentService/*'], callers: ['*'], scopes: [] },
          { methods: ['agentmesh.v1.ToolService/InvokeTool'], callers: ['*'], scopes: [] },
        ],
      },
      'td',
    );
    expect(wide.rules.map((r) => r.methods)).toEqual([
      ['agentmesh.v1.AgentService/*', 'lf.a2a.v1.A2AService/*'],
      ['agentmesh.v1.ToolService/InvokeTool'],
    ]);
  });
});
