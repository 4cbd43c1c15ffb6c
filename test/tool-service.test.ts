import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { Code, httpRequest, type MeshClient, type ToolSpec } from '../mesh/index.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';

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
  let mesh: TestMesh;
  let ledger: StubToolService;
  let client: MeshClient<typeof ToolServiceService>;

  beforeAll(async () => {
    // The kit serves the tools with the framework's tool service, behind mTLS, tokens and a policy.
    mesh = await startTestMesh({ tools: [SERVICE] });
    ledger = await mesh.stubTools(SERVICE, tools);
    client = mesh.client(ToolServiceService, SERVICE, { scopes: ['tools.invoke'] });
  }, 60_000);

  afterAll(() => mesh?.stop());

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
    const text = (await httpRequest(`http://${ledger.admin}/metrics`)).body.toString();
    expect(text).toMatch(/agentmesh_tool_invocations_total\{[^}]*tool="broken"[^}]*outcome="INTERNAL"[^}]*\} 1/);
    expect(text).toMatch(/agentmesh_tool_invocations_total\{[^}]*tool="post-entry"[^}]*outcome="OK"/);
  });
});
