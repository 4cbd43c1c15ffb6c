// Listing an external MCP server's tools with the official SDK client over HTTPS (its own CA, a
// bearer token when it wants one, every page) and turning them into the card the registry keeps.
import { McpAuthMode, type ExternalMcpServer } from '../gen/agentmesh/v1/card.js';
import { tlsFetch, listMcpTools, McpListError, toolCardFromMcpTools, validateToolCard } from '../mesh/index.js';
import { startTestMcpServer, type TestMcpServer, type TestMcpTool } from './helpers/mcp-https-server.js';

const ARGS = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const TOOLS: TestMcpTool[] = [
  {
    name: 'get_forecast',
    title: 'Forecast',
    description: 'The forecast for a city.',
    inputSchema: ARGS,
    outputSchema: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] },
    annotations: { readOnlyHint: true, idempotentHint: true },
  },
  { name: 'subscribeAlerts', inputSchema: ARGS, annotations: { idempotentHint: true, destructiveHint: false } },
];
const SERVER: ExternalMcpServer = {
  url: 'https://weather.example/mcp',
  external: true,
  auth: {
    mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE,
    tokenUrl: '',
    clientId: '',
    secret: '',
    resource: '',
    scopes: ['weather.read'],
  },
  caPem: '',
  protocolVersion: '',
};
const CHOICE = {
  name: 'partners/weather-mcp',
  owner: 'partner-team',
  version: '3.1.0',
  purpose: 'Weather forecasts.',
  idempotent: ['get_forecast'],
};

describe('listing an external MCP server', () => {
  let open: TestMcpServer;
  let guarded: TestMcpServer;
  let paged: TestMcpServer;

  beforeAll(async () => {
    open = await startTestMcpServer({ tools: TOOLS, serverInfo: { name: 'weather', version: '3.1.0' } });
    guarded = await startTestMcpServer({ tools: TOOLS, bearer: 'admin-token' });
    paged = await startTestMcpServer({
      tools: Array.from({ length: 5 }, (_, i) => ({ name: `tool-${i}`, description: `tool ${i}`, inputSchema: ARGS })),
      pageSize: 2,
    });
  });
  afterAll(async () => {
    await Promise.all([open?.close(), guarded?.close(), paged?.close()]);
  });

  test('lists tools with their schemas, the server and the agreed protocol version', async () => {
    const http = tlsFetch({ caPem: open.caPem });
    const listed = await listMcpTools(open.url, { fetch: http.fetch });
    http.close();
    expect(listed.server).toMatchObject({ name: 'weather', version: '3.1.0' });
    expect(listed.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(listed.tools.map((t) => t.name)).toEqual(['get_forecast', 'subscribeAlerts']);
    expect(listed.tools[0]).toMatchObject({
      inputSchema: ARGS,
      outputSchema: TOOLS[0]!.outputSchema,
      annotations: { idempotentHint: true },
    });
  });

  test('every page of a paged listing', async () => {
    const http = tlsFetch({ caPem: paged.caPem });
    const listed = await listMcpTools(paged.url, { fetch: http.fetch });
    http.close();
    expect(listed.tools.map((t) => t.name)).toEqual(['tool-0', 'tool-1', 'tool-2', 'tool-3', 'tool-4']);
  });

  test('a 401 without a token, the listing with it; the token goes only in the Authorization header', async () => {
    const http = tlsFetch({ caPem: guarded.caPem });
    const refused = await listMcpTools(guarded.url, { fetch: http.fetch }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(McpListError);
    expect((refused as McpListError).status).toBe(401);
    const listed = await listMcpTools(guarded.url, {
      fetch: http.fetch,
      headers: { authorization: 'Bearer admin-token' },
    });
    http.close();
    expect(listed.tools).toHaveLength(2);
    expect(guarded.authorizations.at(-1)).toBe('Bearer admin-token');
  });

  test('trusts exactly the CA given: the system roots do not know the server, another CA is refused', async () => {
    for (const fetcher of [tlsFetch(), tlsFetch({ caPem: guarded.caPem })]) {
      const err = await listMcpTools(open.url, { fetch: fetcher.fetch }).catch((e: unknown) => e);
      fetcher.close();
      expect(err).toBeInstanceOf(McpListError);
      expect((err as Error).message).toMatch(/certificate/i);
    }
  });

  test('the card: schemas as listed, idempotent only where the administrator says, hints not kept', async () => {
    const http = tlsFetch({ caPem: open.caPem });
    const { tools, protocolVersion } = await listMcpTools(open.url, { fetch: http.fetch });
    http.close();
    const card = toolCardFromMcpTools(tools, CHOICE, { ...SERVER, protocolVersion });
    expect(card.tools).toEqual([
      {
        name: 'get_forecast',
        description: 'The forecast for a city.',
        argumentsSchema: ARGS,
        resultSchema: TOOLS[0]!.outputSchema,
        tags: [],
        idempotent: true,
        examples: [],
      },
      // The server calls it idempotent; nobody vouched for it, so it is not.
      {
        name: 'subscribeAlerts',
        description: 'the MCP tool subscribeAlerts',
        argumentsSchema: ARGS,
        resultSchema: undefined,
        tags: [],
        idempotent: false,
        examples: [],
      },
    ]);
    expect(card.mcp).toEqual({ ...SERVER, protocolVersion });
    // What the registry will check passes.
    expect(validateToolCard(card, { external: true }).name).toBe('partners/weather-mcp');
  });

  test('an idempotent tool the server does not list, or a visibility the registry cannot express, is refused', () => {
    expect(() => toolCardFromMcpTools([], { ...CHOICE, idempotent: ['nope'] }, SERVER)).toThrow(
      'idempotent: the server lists no tool nope (it lists: none)',
    );
    expect(() => toolCardFromMcpTools([], { ...CHOICE, idempotent: [], visibleTo: ['lending'] }, SERVER)).toThrow(
      'visible_to: an entry is visible to every namespace or only to its own (partners)',
    );
    expect(toolCardFromMcpTools([], { ...CHOICE, idempotent: [], visibleTo: ['partners'] }, SERVER).labels).toEqual({
      'agentmesh.io/visibility': 'namespace',
    });
  });
});
