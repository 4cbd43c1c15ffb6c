// External MCP servers in the registry: an administrator registers one (URL, owner, auth, tools
// with their schemas); it has no lease, is discoverable with its URL as its one endpoint until
// retired, and its name is exclusive between it and mesh workloads.
import { Lifecycle, McpAuthMode, ToolCard } from '../gen/agentmesh/v1/card.js';
import { Code } from '../mesh/index.js';
import {
  cleanupDir,
  endpoint,
  REGISTRY_CLIENTS,
  registryClientAs,
  startRegistry,
  type RegistryUnderTest,
} from './helpers/registry-server.js';
import { createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';
import { createCa } from '../mesh/security/dev-ca.js';

const ADMIN = ['registry.read', 'registry.admin'];
const RW = ['registry.register', 'registry.read'];

const FORECAST_ARGS = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
  required: ['city'],
};
const FORECAST_RESULT = { type: 'object', properties: { summary: { type: 'string' } } };

type Partial = Parameters<typeof ToolCard.fromPartial>[0];

/** The card of an external MCP server, as `agentmesh register mcp` builds it. */
function mcpCard(over: Partial = {}, mcp: NonNullable<Partial['mcp']> = {}): ToolCard {
  return ToolCard.fromPartial({
    name: 'partners/weather-mcp',
    version: '1.4.0',
    purpose: 'Weather forecasts from the partner.',
    description: 'The partner weather MCP server.',
    owner: 'partner-team',
    tools: [
      {
        name: 'get_forecast',
        description: 'the forecast for a city',
        argumentsSchema: FORECAST_ARGS,
        resultSchema: FORECAST_RESULT,
        idempotent: true,
        tags: ['weather'],
      },
      { name: 'subscribeAlerts', description: 'alerts for a city', argumentsSchema: FORECAST_ARGS },
    ],
    ...over,
    mcp: {
      url: 'https://weather.example/mcp',
      external: true,
      auth: { mode: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET, secret: 'mcp/partners/weather#token' },
      caPem: '',
      protocolVersion: '2025-11-25',
      ...mcp,
    },
  });
}

const byName = (name: string) => ({
  scope: { visibility: { names: [name], namespaces: [], patterns: [] }, characteristics: undefined },
  maxResults: 5,
});
const toolOf = (m: { entry?: { card?: { $case: string } } }) =>
  (m.entry?.card as { $case: 'tool'; tool: ToolCard } | undefined)?.tool;

describe('external MCP servers in the registry', () => {
  let fx: SecureFixture;
  let reg: RegistryUnderTest;
  let caPem: string;

  beforeAll(async () => {
    fx = await createSecureFixture(REGISTRY_CLIENTS);
    reg = await startRegistry(fx);
    caPem = (await createCa('partner.example', 1)).certPem;
  });
  afterAll(async () => {
    await reg.stop();
    cleanupDir(reg.dataDir);
    await fx.close();
  });

  test('an administrator registers one: discoverable with its tools and schemas, across a restart, until retired', async () => {
    let admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const card = mcpCard({}, { caPem });
    const { revision } = await admin.registerExternalTool({ card });
    expect(revision).toBeGreaterThan(0);
    // The same card again changes nothing (a retried call is harmless).
    expect((await admin.registerExternalTool({ card })).revision).toBe(revision);

    const check = async (client: Awaited<ReturnType<typeof registryClientAs>>) => {
      const found = await client.discover(byName('partners/weather-mcp'));
      expect(found.matches).toHaveLength(1);
      const tool = toolOf(found.matches[0]!);
      expect(tool?.endpoints).toEqual([
        {
          address: 'weather.example:443',
          adminAddress: '',
          instanceId: 'external',
          mcpUrl: 'https://weather.example/mcp',
        },
      ]);
      expect(tool?.identity).toBe('');
      expect(tool?.mcp).toEqual(card.mcp);
      expect(tool?.tools.map((t) => [t.name, t.idempotent, t.argumentsSchema, t.resultSchema])).toEqual([
        ['get_forecast', true, FORECAST_ARGS, FORECAST_RESULT],
        ['subscribeAlerts', false, FORECAST_ARGS, undefined],
      ]);
      // Discovery by what a tool does (planners look for capabilities, not names).
      const bySkill = await client.discover({
        scope: {
          visibility: undefined,
          characteristics: {
            skillIds: ['get_forecast'],
            tags: [],
            text: '',
            policies: [],
            labels: {},
            versionConstraint: '',
            kinds: [],
          },
        },
        maxResults: 5,
      });
      expect(bySkill.matches.map((m) => toolOf(m)?.name)).toContain('partners/weather-mcp');
      const got = await client.getToolService({ name: 'partners/weather-mcp', version: '' });
      expect(got.card?.mcp?.external).toBe(true);
      const listed = await client.listToolServices({
        namespace: 'partners',
        pageSize: 0,
        pageToken: '',
        includeInactive: false,
      });
      expect(listed.tools.map((t) => [t.name, t.endpoints[0]?.mcpUrl])).toEqual([
        ['partners/weather-mcp', 'https://weather.example/mcp'],
      ]);
    };
    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    await check(reader);

    // A registry restart (same store): still there, still discoverable (no lease to lapse).
    reader.close();
    admin.close();
    const dataDir = reg.dataDir;
    await reg.stop();
    reg = await startRegistry(fx, dataDir);
    const again = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    await check(again);

    admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    await admin.setLifecycle({
      name: 'partners/weather-mcp',
      version: '',
      lifecycle: Lifecycle.LIFECYCLE_RETIRED,
      reason: 'contract ended',
    });
    expect((await again.discover(byName('partners/weather-mcp'))).matches).toEqual([]);
    await expect(admin.registerExternalTool({ card })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringContaining('retired'),
    });
    again.close();
    admin.close();
  });

  test('a changed card is an update: watchers see it, discovery shows the new tools', async () => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const watcher = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    const card = mcpCard({ name: 'partners/maps-mcp' }, { url: 'https://maps.example:8443/v1/mcp' });
    await admin.registerExternalTool({ card });
    const controller = new AbortController();
    const stream = watcher.watch(
      { fromRevision: reg.registry.revision, kinds: [], progressInterval: undefined },
      { signal: controller.signal },
    );
    const next = stream[Symbol.asyncIterator]().next();
    const changed = ToolCard.fromPartial({ ...card, tools: [card.tools[0]!] });
    await admin.registerExternalTool({ card: changed });
    const { value } = await next;
    expect(value.entry.card.tool.name).toBe('partners/maps-mcp');
    expect(value.entry.card.tool.endpoints[0]).toMatchObject({
      address: 'maps.example:8443',
      mcpUrl: 'https://maps.example:8443/v1/mcp',
    });
    expect(value.entry.card.tool.tools.map((t: { name: string }) => t.name)).toEqual(['get_forecast']);
    controller.abort();
    admin.close();
    watcher.close();
  });

  test('visible only in its own namespace when the administrator says so', async () => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    await admin.registerExternalTool({
      card: mcpCard({ name: 'lending/rates-mcp', labels: { 'agentmesh.io/visibility': 'namespace' } }),
    });
    const own = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    const other = await registryClientAs(fx, reg.address, 'payments/ledger', ['registry.read']);
    expect((await own.discover(byName('lending/rates-mcp'))).matches).toHaveLength(1);
    expect((await other.discover(byName('lending/rates-mcp'))).matches).toEqual([]);
    admin.close();
    own.close();
    other.close();
  });

  test('only administrators register external MCP servers, and a refusal changes nothing', async () => {
    const workload = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const before = reg.registry.revision;
    // Even a bad card: the scope is checked before anything about the card is said.
    for (const card of [mcpCard({ name: 'partners/x' }), mcpCard({ name: 'partners/x' }, { url: 'http://x' })])
      await expect(workload.registerExternalTool({ card })).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: expect.stringContaining('registry.admin'),
      });
    await expect(workload.getToolService({ name: 'partners/x', version: '' })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
    });
    expect(reg.registry.revision).toBe(before);
    workload.close();
  });

  const STATIC = McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET;
  const CC = McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS;
  const TX = McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE;
  test.each([
    ['card.identity: must be empty', mcpCard({ identity: idOf('partners', 'weather-mcp') })],
    ['card.name: must be namespace/name', mcpCard({ name: 'weather' })],
    ['card.owner: required', mcpCard({ owner: '' })],
    ['card.mcp: required', { ...mcpCard(), mcp: undefined }],
    ['card.mcp.external: must be true', mcpCard({}, { external: false })],
    ['card.mcp.url: required', mcpCard({}, { url: '' })],
    ['card.mcp.url: must be an https:// URL', mcpCard({}, { url: 'http://weather.example/mcp' })],
    ['card.mcp.url: not an absolute URL', mcpCard({}, { url: '/mcp' })],
    ['card.mcp.url: must not carry a user', mcpCard({}, { url: 'https://u:p@weather.example/mcp' })],
    ['card.mcp.url: must not have a query', mcpCard({}, { url: 'https://weather.example/mcp?key=abc' })],
    ['card.mcp.url: must not have a fragment', mcpCard({}, { url: 'https://weather.example/mcp#x' })],
    ['card.mcp.ca_pem: not a PEM', mcpCard({}, { caPem: 'not a certificate' })],
    [
      'card.mcp.ca_pem: certificate 1 of the bundle does not parse',
      mcpCard({}, { caPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
    ],
    ['card.mcp.auth: required', mcpCard({}, { auth: undefined })],
    ['card.mcp.auth.mode: required', mcpCard({}, { auth: { mode: McpAuthMode.MCP_AUTH_MODE_UNSPECIFIED } })],
    ['card.mcp.auth.secret: required for STATIC_SECRET', mcpCard({}, { auth: { mode: STATIC } })],
    [
      'card.mcp.auth.token_url: must be empty for STATIC_SECRET',
      mcpCard({}, { auth: { mode: STATIC, secret: 's', tokenUrl: 'https://as.example/token' } }),
    ],
    [
      'card.mcp.auth.secret: must be <path> or <path>#<field>',
      mcpCard({}, { auth: { mode: STATIC, secret: 'a/../b#token' } }),
    ],
    [
      'card.mcp.auth.secret: must name a secret under mcp/',
      mcpCard({}, { auth: { mode: STATIC, secret: 'db/payments#password' } }),
    ],
    ['card.mcp.auth.secret: field after #', mcpCard({}, { auth: { mode: STATIC, secret: 'mcp/partners/weather#' } })],
    [
      'card.mcp.auth.client_id: required with a token_url',
      mcpCard({}, { auth: { mode: CC, tokenUrl: 'https://as.example/token', secret: 'partners/as' } }),
    ],
    [
      'card.mcp.auth.secret: required with a token_url',
      mcpCard({}, { auth: { mode: CC, tokenUrl: 'https://as.example/token', clientId: 'mesh' } }),
    ],
    [
      'card.mcp.auth.token_url: must be an https:// URL',
      mcpCard({}, { auth: { mode: CC, tokenUrl: 'http://as.example/token', clientId: 'mesh', secret: 'p' } }),
    ],
    ['card.mcp.auth.secret: must be empty without a token_url', mcpCard({}, { auth: { mode: CC, secret: 'p' } })],
    [
      "card.mcp.auth.token_url: must be empty for TOKEN_EXCHANGE: only the mesh's token endpoint",
      mcpCard({}, { auth: { mode: TX, tokenUrl: 'https://as.example/token' } }),
    ],
    ['card.mcp.auth.scopes: required for TOKEN_EXCHANGE', mcpCard({}, { auth: { mode: TX } })],
    ['card.mcp.auth.scopes: required without a token_url', mcpCard({}, { auth: { mode: CC } })],
    [
      'card.mcp.auth.resource: must be empty for TOKEN_EXCHANGE',
      mcpCard({}, { auth: { mode: TX, scopes: ['read'], resource: 'urn:x' } }),
    ],
    ['card.mcp.url: a loopback or link-local address is refused', mcpCard({}, { url: 'https://127.0.0.1:8443/mcp' })],
    ['card.mcp.url: a loopback or link-local address is refused', mcpCard({}, { url: 'https://[::1]/mcp' })],
    ['card.mcp.url: a loopback or link-local address is refused', mcpCard({}, { url: 'https://169.254.169.254/mcp' })],
    ['card.mcp.url: a loopback or link-local address is refused', mcpCard({}, { url: 'https://localhost/mcp' })],
    [
      'card.mcp.auth.token_url: a loopback or link-local address is refused',
      mcpCard({}, { auth: { mode: CC, tokenUrl: 'https://127.0.0.2/token', clientId: 'c', secret: 'mcp/as' } }),
    ],
    ['card.mcp.auth.scopes[1]: not an OAuth scope', mcpCard({}, { auth: { mode: TX, scopes: ['read', 'a b'] } })],
    ['card.mcp.auth.scopes[1]: duplicate scope', mcpCard({}, { auth: { mode: TX, scopes: ['read', 'read'] } })],
    ['card.mcp.protocol_version', mcpCard({}, { protocolVersion: 'not a version!' })],
    ['card.tools: a tool service needs at least one tool', mcpCard({ tools: [] })],
    ['card.tools[1]: duplicate id get_forecast', mcpCard({ tools: [mcpCard().tools[0]!, mcpCard().tools[0]!] })],
    [
      'card.tools[0]: name "get forecast" must be 1-128 letters',
      mcpCard({ tools: [{ ...mcpCard().tools[0]!, name: 'get forecast' }] }),
    ],
    [
      'card.tools[0].arguments_schema: must be a JSON Schema with "type": "object"',
      mcpCard({ tools: [{ ...mcpCard().tools[0]!, argumentsSchema: { type: 'string' } }] }),
    ],
    [
      'card.tools[0].arguments_schema: must be a JSON Schema with "type": "object"',
      mcpCard({ tools: [{ ...mcpCard().tools[0]!, argumentsSchema: undefined }] }),
    ],
    [
      'card.tools[0].arguments_schema: not a valid JSON Schema',
      mcpCard({ tools: [{ ...mcpCard().tools[0]!, argumentsSchema: { type: 'object', properties: 3 } }] }),
    ],
    [
      'card.tools[0].result_schema: must be a JSON Schema with "type": "object"',
      mcpCard({ tools: [{ ...mcpCard().tools[0]!, resultSchema: { type: 'array' } }] }),
    ],
    ['card.tools[0].description: required', mcpCard({ tools: [{ ...mcpCard().tools[0]!, description: ' ' }] })],
  ])('refuses a bad card, naming the field: %s', async (message, card) => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const before = reg.registry.revision;
    const err = await admin.registerExternalTool({ card: card as ToolCard }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect((err as Error).message).toContain(message);
    expect(reg.registry.revision).toBe(before);
    admin.close();
  });

  test('a name is a mesh tool service’s or an external entry’s, never both', async () => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const ledger = await registryClientAs(fx, reg.address, 'payments/ledger', RW);
    const meshTool = (name: string, identity: string, over: Partial = {}) =>
      ToolCard.fromPartial({
        name,
        version: '1.0.0',
        purpose: 'Computes risk.',
        owner: 'risk-team',
        identity,
        tools: [{ name: 'score', description: 'a score', argumentsSchema: { type: 'object' } }],
        ...over,
      });
    await risk.registerTool({
      card: meshTool('lending/credit-risk', idOf('lending', 'credit-risk')),
      endpoint: endpoint('r1'),
      leaseTtl: undefined,
    });
    // The workload's name, in another version too: refused.
    await expect(
      admin.registerExternalTool({ card: mcpCard({ name: 'lending/credit-risk', version: '9.0.0' }) }),
    ).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining('mesh workload') });
    // An external server's name: the workload of that name cannot take it.
    await admin.registerExternalTool({ card: mcpCard({ name: 'payments/ledger' }) });
    await expect(
      ledger.registerTool({
        card: meshTool('payments/ledger', idOf('payments', 'ledger'), { version: '2.0.0' }),
        endpoint: endpoint('l1'),
        leaseTtl: undefined,
      }),
    ).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: expect.stringContaining("an external MCP server's name"),
    });
    // Nor may a workload's own card claim to be an external MCP server.
    await expect(
      risk.registerTool({
        card: meshTool('lending/credit-risk', idOf('lending', 'credit-risk'), {
          version: '1.1.0',
          mcp: mcpCard().mcp,
        }),
        endpoint: endpoint('r1'),
        leaseTtl: undefined,
      }),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('card.mcp') });
    admin.close();
    risk.close();
    ledger.close();
  });
});
