import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorize } from '../security/index.js';
import { loadStateConfig, openStore, type Store } from '../state/index.js';
import { compileAgentOptions } from './agent-options.js';
import type { Planner } from './planner.js';

const NAME = 'demo/agent';

describe('compileAgentOptions', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'agent-options-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the environment is the default source', () => {
    const c = compileAgentOptions(
      NAME,
      {},
      {
        AGENTMESH_TASK_TIMEOUT_MS: '60000',
        AGENTMESH_TASK_LEASE_MS: '2500',
        AGENTMESH_PLANNER: 'llm',
        OPENAI_API_KEY: 'k',
        OPENAI_MODEL: 'env-model',
        AGENTMESH_MODELS: 'fast=small@http://llm.local/v1',
        AGENTMESH_COLLABORATOR_ADDRESSES: 'demo/tools=127.0.0.1:7001,agent:demo/peer=127.0.0.1:7002',
        AGENTMESH_DATA_DIR: dir,
      },
    );
    expect(c).toMatchObject({
      taskTimeoutMs: 60_000,
      taskLeaseMs: 2_500,
      planner: 'llm',
      openai: { apiKey: 'k', model: 'env-model' },
    });
    expect(c.models).toEqual(new Map([['fast', { model: 'small', baseURL: 'http://llm.local/v1' }]]));
    expect(c.routes).toEqual({
      tools: new Map([['demo/tools', '127.0.0.1:7001']]),
      agents: new Map([['demo/peer', '127.0.0.1:7002']]),
    });
    expect(c.store).toMatchObject({ config: { AGENTMESH_DATA_DIR: dir } });
  });

  test('options in code override their variables, one by one', () => {
    const planner: Planner = { plan: () => Promise.reject(new Error('unused')) };
    const c = compileAgentOptions(
      NAME,
      {
        taskTimeoutMs: 5_000,
        taskLeaseMs: 20_000,
        planner,
        openai: { model: 'code-model' },
        models: { fast: 'tiny', deep: { model: 'big', baseURL: 'http://other.local/v1' } },
        collaborators: { agents: { 'demo/peer': 'peer.local:50051' } },
        store: { AGENTMESH_DATA_DIR: join(dir, 'code') },
      },
      {
        AGENTMESH_TASK_TIMEOUT_MS: '60000',
        AGENTMESH_TASK_LEASE_MS: '2500',
        OPENAI_API_KEY: 'k',
        OPENAI_MODEL: 'env-model',
        AGENTMESH_MODELS: 'fast=small',
        AGENTMESH_COLLABORATOR_ADDRESSES: 'demo/tools=127.0.0.1:7001',
        AGENTMESH_DATA_DIR: dir,
        AGENTMESH_DB_POOL_MAX: '3',
      },
    );
    expect(c.planner).toBe(planner);
    expect(c).toMatchObject({
      taskTimeoutMs: 5_000,
      taskLeaseMs: 20_000,
      openai: { apiKey: 'k', model: 'code-model' },
    });
    expect(c.models).toEqual(
      new Map([
        ['fast', { model: 'tiny' }],
        ['deep', { model: 'big', baseURL: 'http://other.local/v1' }],
      ]),
    );
    expect(c.routes).toEqual({ tools: new Map(), agents: new Map([['demo/peer', 'peer.local:50051']]) });
    expect(c.store).toMatchObject({ config: { AGENTMESH_DATA_DIR: join(dir, 'code'), AGENTMESH_DB_POOL_MAX: 3 } });
  });

  test('an opened store is used as it is', async () => {
    const store: Store = await openStore({
      service: NAME,
      config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }),
    });
    try {
      expect(compileAgentOptions(NAME, { store }, {}).store).toEqual({ opened: store });
    } finally {
      await store.close();
    }
  });

  test('auditor roles: "auditor" by default, a list from the environment, or the option', () => {
    expect(compileAgentOptions(NAME, {}, { AGENTMESH_DATA_DIR: dir }).auditorRoles).toEqual(['auditor']);
    const env = { AGENTMESH_DATA_DIR: dir, AGENTMESH_AUDITOR_ROLES: 'auditor, compliance' };
    expect(compileAgentOptions(NAME, {}, env).auditorRoles).toEqual(['auditor', 'compliance']);
    expect(compileAgentOptions(NAME, { auditorRoles: ['internal-audit'] }, env).auditorRoles).toEqual([
      'internal-audit',
    ]);
  });

  test('the A2A card server: any free port on AGENTMESH_HOST by default, the environment, or the option', () => {
    expect(compileAgentOptions(NAME, {}, { AGENTMESH_DATA_DIR: dir }).a2aCard).toEqual({ port: 0 });
    const env = {
      AGENTMESH_DATA_DIR: dir,
      AGENTMESH_A2A_CARD_PORT: '8443',
      AGENTMESH_A2A_CARD_HOST: '0.0.0.0',
      AGENTMESH_A2A_CARD_ORIGIN: 'https://agent.demo.svc:8443',
    };
    expect(compileAgentOptions(NAME, {}, env).a2aCard).toEqual({
      port: 8443,
      host: '0.0.0.0',
      origin: 'https://agent.demo.svc:8443',
    });
    expect(compileAgentOptions(NAME, { a2aCard: { port: 9443, origin: 'http://agent:9443' } }, env).a2aCard).toEqual({
      port: 9443,
      host: '0.0.0.0',
      origin: 'http://agent:9443',
    });
  });

  test('the MCP secret prefix: mcp/ by default, a folder below it from the environment or the option', () => {
    expect(compileAgentOptions(NAME, {}, { AGENTMESH_DATA_DIR: dir }).mcpSecretPrefix).toBe('mcp/');
    const env = { AGENTMESH_DATA_DIR: dir, AGENTMESH_MCP_SECRET_PREFIX: 'mcp/payments/' };
    expect(compileAgentOptions(NAME, {}, env).mcpSecretPrefix).toBe('mcp/payments/');
    expect(compileAgentOptions(NAME, { mcpSecretPrefix: 'mcp/x/' }, env).mcpSecretPrefix).toBe('mcp/x/');
  });

  test.each([
    ['AGENTMESH_MCP_SECRET_PREFIX must be mcp/', {}, { AGENTMESH_MCP_SECRET_PREFIX: 'db/' }],
    ['AGENTMESH_MCP_SECRET_PREFIX must be mcp/', {}, { AGENTMESH_MCP_SECRET_PREFIX: 'mcp' }],
    ['option mcpSecretPrefix must be mcp/', { mcpSecretPrefix: '' }, {}],
    ['AGENTMESH_A2A_CARD_PORT', {}, { AGENTMESH_A2A_CARD_PORT: '70000' }],
    ['AGENTMESH_A2A_CARD_ORIGIN must be an origin', {}, { AGENTMESH_A2A_CARD_ORIGIN: 'https://a/path' }],
    ['option a2aCard.origin must be an origin', { a2aCard: { origin: 'agent:8443' } }, {}],
    ['option taskTimeoutMs', { taskTimeoutMs: 10 }, {}],
    ['option auditorRoles.0 must be a role name', { auditorRoles: ['two words'] }, {}],
    ['AGENTMESH_AUDITOR_ROLES must be', {}, { AGENTMESH_AUDITOR_ROLES: 'auditor,,x' }],
    ['option planner must be auto, playbook, llm or a Planner', { planner: 'gpt' }, {}],
    ['option models.fast', { models: { fast: {} } }, {}],
    [
      'option collaborators.tools.demo/tools must be host:port',
      { collaborators: { tools: { 'demo/tools': 'x' } } },
      {},
    ],
    [
      'option store.DATABASE_URL must be a postgres:// or postgresql:// URL',
      { store: { DATABASE_URL: 'mysql://x' } },
      {},
    ],
    ['option store', { store: { DATA_DIR: 'x' } }, {}],
    ['option openai.baseURL', { openai: { baseURL: 'not a url' } }, {}],
    ['AGENTMESH_TASK_TIMEOUT_MS', {}, { AGENTMESH_TASK_TIMEOUT_MS: 'soon' }],
    ['option taskLeaseMs', { taskLeaseMs: 10 }, {}],
    ['AGENTMESH_TASK_LEASE_MS', {}, { AGENTMESH_TASK_LEASE_MS: '0' }],
    ['AGENTMESH_COLLABORATOR_ADDRESSES must be', {}, { AGENTMESH_COLLABORATOR_ADDRESSES: 'tools' }],
    ['AGENTMESH_MODELS model alias "x"', {}, { AGENTMESH_MODELS: 'x' }],
  ])('refused, naming the option or variable: %s', (message, options, env) => {
    expect(() => compileAgentOptions(NAME, options as never, env)).toThrow(`invalid configuration: ${message}`);
  });
});

describe('the built-in agent policy (no policy option, no AGENTMESH_POLICY_FILE)', () => {
  const { service } = compileAgentOptions(NAME, {}, { AGENTMESH_TRUST_DOMAIN: 'bank.example' });
  const call = (method: string, caller: string, scopes: string[]) =>
    authorize(service.policy, `/agentmesh.v1.AgentService/${method}`, {
      spiffeId: `spiffe://bank.example/ns/${caller}`,
      scopes,
    }).allowed;

  test('is the default', () => expect(service.policySource).toBe('built-in default'));

  test('the local CLI and console send and follow tasks with the right scope', () => {
    for (const caller of ['agentmesh/sa/cli', 'agentmesh/sa/console']) {
      expect(call('SendTask', caller, ['task.write'])).toBe(true);
      expect(call('ProvideInput', caller, ['task.write'])).toBe(true);
      expect(call('GetTask', caller, ['task.read'])).toBe(true);
      expect(call('ExplainTask', caller, ['task.read'])).toBe(true);
      expect(call('SendTask', caller, ['task.read'])).toBe(false);
    }
  });

  test('other workloads, and other trust domains, only read the card', () => {
    expect(call('GetAgentCard', 'demo/sa/other-agent', [])).toBe(true);
    expect(call('SendTask', 'demo/sa/other-agent', ['task.write'])).toBe(false);
    expect(call('GetTask', 'demo/sa/other-agent', ['task.read'])).toBe(false);
    expect(
      authorize(service.policy, '/agentmesh.v1.AgentService/SendTask', {
        spiffeId: 'spiffe://elsewhere.example/ns/agentmesh/sa/cli',
        scopes: ['task.write'],
      }).allowed,
    ).toBe(false);
  });
});
