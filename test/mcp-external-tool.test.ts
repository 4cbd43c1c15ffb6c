// An agentmesh agent uses tools of an MCP server of another organisation as collaborators. The
// partner's server is built here with the official SDK (McpServer + the Node Streamable HTTP
// transport, test/helpers/mcp-partner.ts) over HTTPS with a certificate of its own CA. It serves
// two endpoints: /rates/mcp verifies the mesh's tokens (it trusts the mesh's issuer, audience =
// its registered name: CLIENT_CREDENTIALS, the agent's own token) and /ledger/mcp a static API key
// (STATIC_SECRET, from the agent's secrets provider). An administrator registers both with
// RegisterExternalTool; the agent (a process) finds them through its collaborators scope and its
// playbooks name their tools. A user (ada) sends the tasks: her token never reaches the partner.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { McpAuthMode, ToolCard } from '../gen/agentmesh/v1/card.js';
import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState, type Task } from '../gen/agentmesh/v1/task.js';
import { startTestMesh, type TestMesh } from '../mesh/testing/index.js';
import { createCa, issueWorkloadCert } from '../mesh/security/dev-ca.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { issuerMetadata } from '../mesh/security/issuer-metadata.js';
import { externalIdempotencyKey } from '../mesh/runtime/mcp/mcp-step-runner.js';
import { McpPartner } from './helpers/mcp-partner.js';

const CALLER_AGENT = 'demo/mcp-caller';
const RATES = 'partners/rates';
const LEDGER = 'partners/ledger';
const DESK = 'partners/desk';
const API_KEY = 'ledger-api-key-7f3a';
const USER = 'ada';

const request = (requestId: string, skillId: string, data: Record<string, unknown>): SendTaskRequest => ({
  requestId,
  skillId,
  message: {
    messageId: requestId,
    contextId: '',
    taskId: '',
    role: 1,
    parts: [{ content: { $case: 'data', data }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    referenceTaskIds: [],
  },
  configuration: { blocking: true, historyLength: 0, timeout: undefined },
});

const resultOf = (task: Task) => {
  const part = (task.artifacts.find((a) => a.name === 'result') ?? task.artifacts[0])?.parts[0]?.content;
  return part?.$case === 'data' ? part.data : undefined;
};
// Another process's progress: polled until it is there (the test's own timeout is the bound).
const until = async (check: () => boolean | Promise<boolean>) => {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
};
const reasonOf = (task: Task) =>
  (task.status?.message?.parts ?? []).map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join(' ');

/** The card an administrator registers: the server's tools as it lists them, idempotent where the administrator says so. */
const entry = (
  name: string,
  url: string,
  caPem: string,
  auth: NonNullable<Parameters<typeof ToolCard.fromPartial>[0]['mcp']>['auth'],
) =>
  ToolCard.fromPartial({
    name,
    version: '3.0.0',
    purpose: `${name} of the partner`,
    owner: 'partner-co',
    tools: [
      {
        name: 'lookup-rate',
        description: 'The rate of a currency',
        argumentsSchema: { type: 'object', properties: { currency: { type: 'string' } }, required: ['currency'] },
        idempotent: true,
      },
      {
        name: 'refuse-quote',
        description: 'Refuses',
        argumentsSchema: { type: 'object', properties: { currency: { type: 'string' } } },
        idempotent: true,
      },
      { name: 'greet', description: 'Says hello', argumentsSchema: { type: 'object' }, idempotent: true },
      {
        name: 'book-payment',
        description: 'Books a payment',
        argumentsSchema: { type: 'object', properties: { amount: { type: 'number' } } },
        idempotent: false,
      },
    ],
    mcp: { url, external: true, caPem, protocolVersion: '2025-11-25', auth },
  });

describe('an external MCP server (the official SDK server) as a collaborator of an agentmesh agent', () => {
  let mesh: TestMesh;
  let partner: McpPartner;
  let caller: Awaited<ReturnType<TestMesh['startAgent']>>;
  const startCaller = () => mesh.startAgent('test/fixtures/mcp-caller-agent.ts', { name: CALLER_AGENT, tracing: true });
  /** The claims of every mesh token the rates endpoint accepted. */
  const accepted: Record<string, unknown>[] = [];
  /** The claims of every mesh token the desk endpoint accepted. */
  const delegated: Record<string, unknown>[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh({ agents: [CALLER_AGENT] });
    const meshCaPem = readFileSync(join(mesh.home, 'certs', 'ca.crt'), 'utf8');
    const { jwks_uri } = await issuerMetadata(mesh.issuer, meshCaPem);
    const jwks = JSON.parse(
      (await httpRequest(jwks_uri!, { method: 'GET', ca: meshCaPem })).body.toString(),
    ) as JSONWebKeySet;
    const keys = createLocalJWKSet(jwks);
    // The partner's certificate is from its own CA, not the mesh's: the registry entries carry that CA.
    const partnerCa = await createCa('partner.example', 1);
    const pair = await issueWorkloadCert(partnerCa, {
      spiffeId: 'spiffe://partner.example/ns/partners/sa/mcp',
      commonName: 'mcp.partner.example',
    });
    partner = new McpPartner(pair, async (path, authorization) => {
      const token = authorization.replace(/^Bearer /, '');
      if (path === '/ledger/mcp') return token === API_KEY;
      if (path !== '/rates/mcp' && path !== '/desk/mcp') return false;
      const audience = path === '/rates/mcp' ? RATES : DESK;
      try {
        const { payload } = await jwtVerify(token, keys, { issuer: mesh.issuer, audience });
        (audience === RATES ? accepted : delegated).push(payload);
        return true;
      } catch {
        return false;
      }
    });
    await partner.start();
    // The agent reads the ledger's API key from its secrets provider (the mesh's secrets file here).
    mesh.setSecret('mcp/partners/ledger-api', { token: API_KEY });
    const registry = mesh.registry();
    await registry.registerExternalTool({
      card: entry(RATES, partner.url('/rates/mcp'), partnerCa.certPem, {
        mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
        scopes: ['tools.invoke'],
      }),
    });
    await registry.registerExternalTool({
      card: entry(LEDGER, partner.url('/ledger/mcp'), partnerCa.certPem, {
        mode: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET,
        secret: 'mcp/partners/ledger-api#token',
      }),
    });
    // Traced: each attempt's span (its trace id in the explanation) is the parent of the MCP call.
    await registry.registerExternalTool({
      card: entry(DESK, partner.url('/desk/mcp'), partnerCa.certPem, {
        mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE,
        scopes: ['task.write'],
      }),
    });
    caller = await startCaller();
  }, 180_000);

  afterAll(async () => {
    await partner?.stop();
    await mesh?.stop();
  });

  test('an idempotent tool answering 503 once is retried by the executor and the step succeeds', async () => {
    partner.unavailableOnce.add('lookup-rate');
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    const { task } = await agent.sendTask(request('rate-1', 'rate', { currency: 'XTS' }));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(resultOf(task!)).toEqual({ currency: 'XTS', rate: 1.25 });
    // Two calls reached the server; the first was answered 503 without running the tool.
    const calls = partner.calls('lookup-rate');
    expect(calls).toHaveLength(2);
    expect(partner.executed.filter((t) => t === 'lookup-rate')).toHaveLength(1);

    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 1 });
    const step = explanation!.execution.find((e) => e.stepId === 'partner')!;
    expect(step.state).toBe(StepState.STEP_STATE_SUCCEEDED);
    expect(step.attempts.map((a) => a.code)).toEqual(['UNAVAILABLE', 'OK']);
    expect(step.attempts[0]!.error).toContain('503');
    // The idempotent retry re-sent the same idempotency key (the first attempt was ambiguous).
    expect(calls.map((c) => c.meta?.['io.agentmesh/idempotency-key'])).toEqual(
      step.attempts.map((a) => externalIdempotencyKey(a.idempotencyKey)),
    );
    // Each call carried its attempt's trace: the trace id in _meta.traceparent is the attempt's.
    expect(calls.map((c) => String(c.meta?.traceparent).split('-')[1])).toEqual(step.attempts.map((a) => a.traceId));
    expect(step.attempts[0]!.traceId).toMatch(/^[0-9a-f]{32}$/);
    // The substitution log: the argument came from the task's input.
    expect(explanation!.substitutions).toEqual([
      expect.objectContaining({ stepId: 'partner', path: '/currency', source: 'input.currency', value: 'XTS' }),
    ]);
    // The collaborator record says what was called: the partner's MCP endpoint.
    const collaborator = explanation!.collaborators.find((c) => c.stepId === 'partner')!;
    expect(collaborator.address).toBe(partner.url('/rates/mcp'));
    expect(collaborator.reasons.join(' ')).toContain(`external MCP server at ${partner.url('/rates/mcp')}`);
  });

  test("the partner sees the agent's own mesh token (client credentials), never the user's", async () => {
    const rates = partner.requests.filter((r) => r.path === '/rates/mcp');
    expect(rates.length).toBeGreaterThan(0);
    expect(accepted.length).toBe(rates.length);
    for (const claims of accepted) {
      expect(claims.sub).not.toBe(USER);
      expect(claims.act).toBeUndefined();
      expect(claims.aud).toBe(RATES);
    }
    for (const r of partner.requests) {
      const claims = r.authorization.startsWith('Bearer ey') ? decodeJwt(r.authorization.slice(7)) : {};
      expect(claims.sub).not.toBe(USER);
    }
  });

  test("a tool's refusal (isError) fails the task with the tool's text, not retried", async () => {
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    const { task } = await agent.sendTask(request('refuse-1', 'refuse', { currency: 'XTS' }));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(reasonOf(task!)).toContain('no quote for XTS today');
    expect(partner.calls('refuse-quote')).toHaveLength(1);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 1 });
    const step = explanation!.execution.find((e) => e.stepId === 'partner')!;
    expect(step.attempts.map((a) => a.code)).toEqual(['FAILED_PRECONDITION']);
    expect(step.reason).toContain('no quote for XTS today');
  });

  test('a non-idempotent tool on the static-secret endpoint completes with its JSON text result', async () => {
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    const { task } = await agent.sendTask(request('pay-1', 'pay', { amount: 12 }));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(resultOf(task!)).toEqual({ booked: true, amount: 12 });
    const call = partner.calls('book-payment').at(-1)!;
    expect(call.path).toBe('/ledger/mcp');
    expect(call.authorization).toBe(`Bearer ${API_KEY}`);
  });

  test('a non-idempotent tool whose answer is lost is not retried: the task fails saying the outcome is unknown', async () => {
    partner.loseAnswerOnce.add('book-payment');
    const before = partner.calls('book-payment').length;
    const executed = partner.executed.filter((t) => t === 'book-payment').length;
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    const { task } = await agent.sendTask(request('pay-2', 'pay', { amount: 30 }));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(reasonOf(task!)).toContain('outcome unknown');
    // The tool acted once; nothing was sent again.
    expect(partner.calls('book-payment').length - before).toBe(1);
    expect(partner.executed.filter((t) => t === 'book-payment').length - executed).toBe(1);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 1 });
    const step = explanation!.execution.find((e) => e.stepId === 'partner')!;
    expect(step.attempts.map((a) => a.code)).toEqual(['UNKNOWN']);
  });

  test('a server echoing the static API key in an error body: the key is in no task reason or explanation', async () => {
    partner.echoAuthorization.add('book-payment');
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    const { task } = await agent.sendTask(request('pay-echo', 'pay', { amount: 5 }));
    partner.echoAuthorization.delete('book-payment');
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(reasonOf(task!)).toContain('HTTP 400');
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 1 });
    const { task: stored } = await agent.getTask({ taskId: task!.id, historyLength: 100 });
    for (const text of [reasonOf(task!), JSON.stringify(explanation), JSON.stringify(stored)])
      expect(text).not.toContain(API_KEY);
  });

  test("TOKEN_EXCHANGE: the partner sees a token exchanged from the user's, the agent in act, for its registered name", async () => {
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    const { task } = await agent.sendTask(request('greet-1', 'greet', {}));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(resultOf(task!)).toBe('hello from the partner');
    expect(delegated.length).toBeGreaterThan(0);
    for (const claims of delegated) {
      expect(claims.sub).toBe(USER);
      expect(JSON.stringify(claims.act)).toContain(CALLER_AGENT);
      expect(claims.aud).toBe(DESK);
      expect(String(claims.scope).split(' ')).toEqual(['task.write']);
    }
  });

  // Last: it kills the agent process (SIGKILL) while the partner's tool is acting.
  test('a non-idempotent tool whose request went out before the agent was killed is not called again after the restart: outcome unknown', async () => {
    partner.hold.add('book-payment');
    const executed = partner.executed.filter((t) => t === 'book-payment').length;
    const { task } = await mesh.agent(CALLER_AGENT, { user: USER }).sendTask({
      ...request('pay-3', 'pay', { amount: 70 }),
      configuration: { blocking: false, historyLength: 0, timeout: undefined },
    });
    await until(() => partner.executed.filter((t) => t === 'book-payment').length > executed);
    caller.process.child.kill('SIGKILL');
    await caller.process.exited;
    partner.release();
    caller = await startCaller();
    const agent = mesh.agent(CALLER_AGENT, { user: USER });
    let done: Task | undefined;
    await until(async () => {
      const t = (await agent.getTask({ taskId: task!.id, historyLength: 0 })).task!;
      done = t;
      return t.status!.state === TaskState.TASK_STATE_FAILED || t.status!.state === TaskState.TASK_STATE_COMPLETED;
    });
    expect(done!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(reasonOf(done!)).toContain('outcome unknown');
    // The partner acted once: the resumed attempt sent nothing.
    expect(partner.executed.filter((t) => t === 'book-payment').length - executed).toBe(1);
    expect(
      partner
        .calls('book-payment')
        .filter((c) => c.meta?.['io.agentmesh/idempotency-key'] === externalIdempotencyKey(`${task!.id}:partner:1`)),
    ).toHaveLength(1);
  }, 120_000);
});
