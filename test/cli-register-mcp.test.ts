// `agentmesh register mcp` against a real local mesh (the launcher's auth server and registry) and
// real MCP servers (the official SDK's McpServer over HTTPS with their own CA): the CLI lists the
// server's tools with the SDK client, registers the card with the registry's admin RPC, and
// `agentmesh tools` / `agents` then show the server with its tools and schemas.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchMesh, type RunningMesh } from '../devtools/launcher/launcher.js';
import { startTestMcpServer, type TestMcpServer, type TestMcpTool } from './helpers/mcp-https-server.js';
import { ROOT, runCommand } from './helpers/processes.js';

const ARGS = {
  type: 'object',
  properties: { city: { type: 'string', description: 'the city' } },
  required: ['city'],
};
const TOOLS: TestMcpTool[] = [
  {
    name: 'get_forecast',
    description: 'The forecast for a city.',
    inputSchema: ARGS,
    outputSchema: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] },
    annotations: { readOnlyHint: true, idempotentHint: true },
  },
  {
    name: 'subscribe_alerts',
    description: 'Weather alerts for a city.',
    inputSchema: ARGS,
    annotations: { idempotentHint: true },
  },
];
const TOKEN = 'admin-own-token-9f3c';

describe('agentmesh register mcp', () => {
  let dir: string;
  let home: string;
  let mesh: RunningMesh;
  let open: TestMcpServer;
  let guarded: TestMcpServer;
  let broken: TestMcpServer;

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: home, ...env },
      timeout: 60_000,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-register-mcp-'));
    home = join(dir, 'home');
    const manifest = join(dir, 'mesh-manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        trustDomain: 'agentmesh.local',
        services: [
          { name: 'agentmesh/auth', kind: 'auth', entry: 'services/auth/main.ts' },
          { name: 'agentmesh/registry', kind: 'registry', entry: 'services/registry/main.ts' },
        ],
      }),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        mesh = await launchMesh({
          root: ROOT,
          home,
          manifest,
          basePort: 40_000 + Math.floor(Math.random() * 200) * 100,
        });
        break;
      } catch (err) {
        // A port of the random block may be taken by another program: try another block.
        if (attempt >= 3 || !/is in use/.test((err as Error).message)) throw err;
      }
    }
    open = await startTestMcpServer({ tools: TOOLS, serverInfo: { name: 'weather', version: '3.1' } });
    guarded = await startTestMcpServer({ tools: TOOLS, bearer: TOKEN });
    // A schema the SDK passes on but no JSON Schema validator compiles (the registry's own check).
    broken = await startTestMcpServer({
      tools: [{ name: 'odd', description: 'odd', inputSchema: { type: 'object', minProperties: 'two' } }],
      pageSize: 10,
    });
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await open?.close();
    await guarded?.close();
    await broken?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('registers the server with its tools; tools and agents show it, its schemas and its URL', async () => {
    const args = [
      'register',
      'mcp',
      open.url,
      '--name',
      'partners/weather-mcp',
      '--owner',
      'partner-team',
      '--auth',
      'token-exchange',
      '--scope',
      'weather.read',
      '--idempotent',
      'get_forecast',
      '--label',
      'tier=gold',
      '--ca',
      open.caFile,
    ];
    const registered = await cli(args);
    expect(registered).toMatchObject({ code: 0, stderr: '' });
    expect(registered.stdout).toMatch(
      new RegExp(
        `^registered partners/weather-mcp@3\\.1\\.0: external MCP server at ${open.url}, 2 tool\\(s\\): get_forecast, subscribe_alerts \\(registry revision (\\d+)\\)\\n`,
      ),
    );
    // The server's own idempotency hint is shown, not trusted.
    expect(registered.stdout).toContain('the server calls subscribe_alerts idempotent (a hint, not trusted)');
    const revision = /revision (\d+)/.exec(registered.stdout)![1];

    const shown = await cli(['tools', 'partners/weather-mcp']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('partners/weather-mcp@3.1.0  external MCP server  ACTIVE  owner partner-team');
    expect(shown.stdout).toContain(`    mcp: ${open.url}  auth: token-exchange  protocol `);
    expect(shown.stdout).toContain('get_forecast  (idempotent)\n    The forecast for a city.');
    expect(shown.stdout).toContain('subscribe_alerts\n    Weather alerts for a city.');
    expect(shown.stdout).toMatch(/city.*the city/);

    const json = await cli(['tools', 'partners/weather-mcp', '--json']);
    const card = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(card).toMatchObject({
      labels: { tier: 'gold' },
      tools: [
        { name: 'get_forecast', argumentsSchema: ARGS, resultSchema: TOOLS[0]!.outputSchema, idempotent: true },
        { name: 'subscribe_alerts', argumentsSchema: ARGS },
      ],
      endpoints: [{ address: `localhost:${new URL(open.url).port}`, instanceId: 'external', mcpUrl: open.url }],
      mcp: {
        url: open.url,
        external: true,
        caPem: readFileSync(open.caFile, 'utf8'),
        auth: { mode: 'MCP_AUTH_MODE_TOKEN_EXCHANGE', scopes: ['weather.read'] },
      },
    });
    expect((card.tools as { idempotent?: boolean }[])[1]!.idempotent).toBeFalsy();
    expect((card.mcp as { protocolVersion: string }).protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    const found = await cli(['agents', 'partners/weather-mcp']);
    expect(found.stdout).toContain('partners/weather-mcp@3.1.0  tool  ACTIVE  1 instance(s)  owner partner-team');
    expect(found.stdout).toContain('tools: get_forecast, subscribe_alerts');
    expect(found.stdout).toContain(`    mcp: external ${open.url}`);

    // Again with the same choices: nothing changes.
    const again = await cli(args);
    expect(again.stdout).toContain(`(registry revision ${revision})`);
  }, 120_000);

  test('a server that wants a token to list: refused without one, listed with the admin’s own, which is kept nowhere', async () => {
    const args = [
      'register',
      'mcp',
      guarded.url,
      '--name',
      'partners/guarded-mcp',
      '--owner',
      'partner-team',
      '--auth',
      'secret',
      '--secret',
      'mcp/partners/guarded#api_key',
      '--ca',
      guarded.caFile,
      '--json',
    ];
    const refused = await cli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `agentmesh: the MCP server at ${guarded.url} wants a token to list its tools (HTTP 401): pass --bearer-env VAR, VAR holding your own token for it\n`,
    );
    const wrong = await cli([...args, '--bearer-env', 'MCP_TOKEN'], { MCP_TOKEN: 'not-it' });
    expect(wrong.stderr).toBe(
      `agentmesh: the MCP server at ${guarded.url} refused the token in MCP_TOKEN (HTTP 401)\n`,
    );
    expect(wrong.stderr).not.toContain('not-it');

    const listed = await cli([...args, '--bearer-env', 'MCP_TOKEN'], { MCP_TOKEN: TOKEN });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      name: 'partners/guarded-mcp',
      version: '3.1.0',
      url: guarded.url,
      tools: ['get_forecast', 'subscribe_alerts'],
    });
    expect(guarded.authorizations).toContain(`Bearer ${TOKEN}`);
    const card = await cli(['tools', 'partners/guarded-mcp', '--json']);
    expect(JSON.parse(card.stdout).mcp.auth).toEqual({
      mode: 'MCP_AUTH_MODE_STATIC_SECRET',
      secret: 'mcp/partners/guarded#api_key',
    });
    expect(card.stdout).not.toContain(TOKEN);
    expect(listed.stdout).not.toContain(TOKEN);
  }, 120_000);

  const base = (over: string[] = []) => [
    '--name',
    'partners/w',
    '--owner',
    'x',
    '--auth',
    'token-exchange',
    '--ca',
    'CA',
    ...over,
  ];
  test.each([
    [['--owner', 'x', '--auth', 'token-exchange'], 2, '--name NS/NAME is required'],
    [
      ['--name', 'Partners/W', '--owner', 'x', '--auth', 'token-exchange'],
      2,
      '--name Partners/W: must be namespace/name',
    ],
    [['--name', 'partners/w', '--auth', 'token-exchange'], 2, '--owner is required'],
    [['--name', 'partners/w', '--owner', 'x'], 2, '--auth is required: client-credentials, token-exchange or secret'],
    [['--name', 'partners/w', '--owner', 'x', '--auth', 'oauth'], 2, '--auth is required'],
    [base(['--auth', 'secret']), 2, '--secret: required for STATIC_SECRET'],
    [base(['--auth', 'secret', '--secret', 'a/../b']), 2, '--secret: must be <path> or <path>#<field>'],
    [base(['--auth', 'secret', '--secret', 'db/payments#password']), 2, '--secret: must name a secret under mcp/'],
    [
      base(['--token-url', 'https://as.example/token']),
      2,
      "--token-url: must be empty for TOKEN_EXCHANGE: only the mesh's",
    ],
    [
      base(['--auth', 'client-credentials', '--token-url', 'http://as.example/t', '--client-id', 'c', '--secret', 's']),
      2,
      '--token-url: must be an https:// URL',
    ],
    [base(['--auth', 'client-credentials', '--secret', 's']), 2, '--secret: must be empty without a token_url'],
    [base(['--scope', 'a b']), 2, '--scope: not an OAuth scope'],
    [base(), 2, '--scope: required for TOKEN_EXCHANGE'],
    [base(['--auth', 'client-credentials']), 2, '--scope: required without a token_url'],
    [base(['--scope', 'a', '--resource', 'urn:x']), 2, '--resource: must be empty for TOKEN_EXCHANGE'],
    [
      base(['--scope', 'weather.read', '--idempotent', 'get-forecast']),
      2,
      '--idempotent: the server lists no tool get-forecast (it lists: get_forecast, subscribe_alerts)',
    ],
    [
      base(['--scope', 'weather.read', '--visible-to', 'lending']),
      2,
      '--visible-to: an entry is visible to every namespace or only to its own (partners)',
    ],
    [
      base(['--scope', 'weather.read', '--bearer-env', 'NO_SUCH_MCP_TOKEN_VAR']),
      2,
      '--bearer-env NO_SUCH_MCP_TOKEN_VAR: the environment variable',
    ],
    [base(['--version', '1.2']), 2, '--version 1.2: not a semantic version'],
    [
      ['--name', 'partners/w', '--owner', 'x', '--auth', 'token-exchange', '--scope', 'weather.read'],
      1,
      'cannot list the tools of the MCP server at',
    ],
    [base(['--url', '?api_key=s3cret']), 2, 'the MCP server URL: must not have a query string'],
    [base(['--url', 'http']), 2, 'the MCP server URL: must be an https:// URL'],
    [base(['--url', 'userinfo']), 2, 'the MCP server URL: must not carry a user or password'],
    [base(['--scope', 'weather.read', '--url', 'unreachable']), 1, 'ECONNREFUSED'],
    [
      base(['--scope', 'weather.read', '--url', 'broken']),
      1,
      'the registry refused partners/w: card.tools[0].arguments_schema: not a valid JSON Schema',
    ],
  ])(
    'one-line error: %j',
    async (options, code, message) => {
      const at = options.indexOf('--url');
      const how = at >= 0 ? options.splice(at, 2)[1]! : '';
      const url =
        how === 'http'
          ? open.url.replace('https:', 'http:')
          : how === 'userinfo'
            ? open.url.replace('https://', 'https://admin:s3cret@')
            : how === 'unreachable'
              ? 'https://127.0.0.1:1/mcp'
              : how === 'broken'
                ? broken.url
                : `${open.url}${how}`;
      const args = options.map((o) => (o === 'CA' ? (how === 'broken' ? broken.caFile : open.caFile) : o));
      const result = await cli(['register', 'mcp', url, ...args]);
      expect(result.stderr).toContain(message);
      expect(result.code).toBe(code);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toContain('s3cret');
    },
    60_000,
  );
});
