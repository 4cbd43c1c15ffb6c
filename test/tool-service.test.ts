import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { createClient, type MeshClient } from '../mesh/index.js';
import { toolCardOf, toolService, type ToolSpec } from '../mesh/index.js';
import { parsePolicy } from '../mesh/security/policy.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import { Code, createServer, type MeshServer } from '../mesh/index.js';
import { loadStateConfig, openStore, type Store } from '../mesh/index.js';
import { MeshMetrics } from '../mesh/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { TRUST_DOMAIN } from './helpers/pki.js';
import { createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';

const SERVICE = 'banking/ledger';
let applied = 0;

const tools: ToolSpec[] = [
  {
    name: 'post-entry',
    description: 'Posts a ledger entry (not idempotent by nature)',
    argumentsSchema: {
      type: 'object',
      required: ['account', 'amount'],
      properties: {
        account: { type: 'string', pattern: '^[A-Z]{2}[0-9]{4}$' },
        amount: { type: 'number', exclusiveMinimum: 0 },
      },
      additionalProperties: false,
    },
    resultSchema: { type: 'object', required: ['entry'], properties: { entry: { type: 'integer' } } },
    async handler(args) {
      await new Promise((r) => setTimeout(r, 50));
      applied++;
      return { entry: applied, account: args.account };
    },
  },
  {
    name: 'broken',
    description: 'Returns something its schema forbids',
    argumentsSchema: { type: 'object' },
    resultSchema: { type: 'object', required: ['ok'] },
    idempotent: true,
    handler: async () => ({ nope: true }),
  },
];

describe('tool services built with mesh/', () => {
  let fx: SecureFixture;
  let store: Store;
  let server: MeshServer;
  let client: MeshClient<typeof ToolServiceService>;
  let dir: string;
  const metrics = new MeshMetrics(SERVICE);

  beforeAll(async () => {
    fx = await createSecureFixture([
      { client_id: 'lending/orchestrator', scopes: ['tools.invoke'], audiences: [SERVICE] },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'tools-'));
    store = await openStore({ service: SERVICE, config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }) });
    const log = captureLogger(SERVICE).log;
    const transport = await fx.transportFor('banking', 'ledger');
    const verifier = new TokenVerifier({
      issuer: fx.auth.issuer,
      audience: SERVICE,
      jwksUrl: fx.auth.jwksUrl,
      ca: fx.pki.ca.certPem,
    });
    const policy = parsePolicy(
      {
        service: SERVICE,
        rules: [
          {
            methods: ['agentmesh.v1.ToolService/*'],
            callers: ['spiffe://{trust_domain}/ns/lending/sa/*'],
            scopes: ['tools.invoke'],
          },
        ],
      },
      TRUST_DOMAIN,
    );
    const card = toolCardOf(
      { name: SERVICE, version: '1.0.0', purpose: 'Ledger postings', owner: 'team-ledger' },
      tools,
      idOf('banking', 'ledger'),
    );
    server = createServer({ logger: log })
      .use(securityInterceptor({ transport, verifier, policy, log }))
      .add(ToolServiceService, toolService(card, tools, { store, metrics, service: SERVICE }));
    const port = await server.listen('127.0.0.1:0', transport.serverCredentials());
    const caller = await fx.transportFor('lending', 'orchestrator');
    client = createClient(ToolServiceService, `127.0.0.1:${port}`, {
      credentials: caller.channelCredentials(idOf('banking', 'ledger')),
      metadataHooks: [fx.tokenClient('lending/orchestrator').metadataHook(SERVICE, ['tools.invoke'])],
    });
  });

  afterAll(async () => {
    client.close();
    await server.shutdown({ graceMs: 200 });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await fx.close();
  });

  const invoke = (args: Record<string, unknown>, key = '', tool = 'post-entry') =>
    client.invokeTool({ tool, arguments: args, idempotencyKey: key, context: undefined });

  test('ListTools returns the card with the schemas', async () => {
    const { card } = await client.listTools({});
    expect(card?.tools.map((t) => t.name)).toEqual(['post-entry', 'broken']);
    expect(card?.tools[0]?.argumentsSchema).toMatchObject({ required: ['account', 'amount'] });
  });

  test.each([
    [{ account: 'GB1234' }, 'arguments/amount: required'],
    [{ account: 'GB1234', amount: -5 }, 'arguments/amount: must be > 0'],
    [{ account: 'nope', amount: 5 }, 'arguments/account: must match pattern'],
    [{ account: 'GB1234', amount: 5, extra: 1 }, 'arguments/extra: not allowed'],
  ])('arguments %j are refused before the handler: %s', async (args, message) => {
    const before = applied;
    await expect(invoke(args, 'k-bad')).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining(message),
    });
    expect(applied).toBe(before);
  });

  test('a non-idempotent tool needs an idempotency key; an unknown tool is NOT_FOUND', async () => {
    await expect(invoke({ account: 'GB1234', amount: 5 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining('idempotency_key'),
    });
    await expect(invoke({}, 'k', 'no-such-tool')).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  test('a repeated key, even concurrently, acts once and returns the stored result', async () => {
    const before = applied;
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() => invoke({ account: 'GB1234', amount: 10 }, 'task-1/step-a/1')),
    );
    expect(applied).toBe(before + 1);
    expect(new Set(answers.map((a) => JSON.stringify(a.result)))).toHaveProperty('size', 1);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    const later = await invoke({ account: 'GB1234', amount: 10 }, 'task-1/step-a/1');
    expect(later).toMatchObject({ replayed: true, result: answers[0]!.result });
    expect(applied).toBe(before + 1);
  });

  test('the same key with different arguments is refused', async () => {
    await invoke({ account: 'GB1234', amount: 1 }, 'task-2/step-a/1');
    await expect(invoke({ account: 'GB1234', amount: 2 }, 'task-2/step-a/1')).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringContaining('was used with other arguments'),
    });
  });

  test('a result that breaks the tool schema is INTERNAL, and outcomes are counted', async () => {
    await expect(invoke({}, '', 'broken')).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: expect.stringContaining('result/ok: required'),
    });
    const text = await metrics.text();
    expect(text).toMatch(/agentmesh_tool_invocations_total\{[^}]*tool="broken"[^}]*outcome="INTERNAL"[^}]*\} 1/);
    expect(text).toMatch(/agentmesh_tool_invocations_total\{[^}]*tool="post-entry"[^}]*outcome="OK"/);
  });
});
