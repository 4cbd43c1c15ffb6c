// `agentmesh register a2a` against a real local mesh (the launcher's auth server and registry): the
// CLI fetches an external agent's A2A card from an HTTPS server of its own CA, registers it with the
// registry's admin RPC, and `agentmesh agents` then shows it and hands its A2A card out again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCard as A2aCardJson } from '@a2a-js/sdk';
import { launchMesh, type RunningMesh } from '../devtools/launcher/launcher.js';
import { createTestPki, type TestPki } from './helpers/pki.js';
import { ROOT, runCommand } from './helpers/processes.js';

/** An A2A 1.0 card as another framework serves it, with its interfaces as given. */
const a2aCard = (interfaces: { url: string; protocolBinding: string; protocolVersion: string }[]) =>
  A2aCardJson.toJSON({
    name: 'Weather Agent',
    description: 'Answers weather questions for any city. Backed by a forecast service.',
    supportedInterfaces: interfaces.map((i) => ({ ...i, tenant: '' })),
    provider: undefined,
    version: '2.3',
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [
      {
        id: 'forecast',
        name: 'Forecast',
        description: 'the forecast for a place',
        tags: ['weather'],
        examples: ['Will it rain in Lyon tomorrow?'],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
  });

const CARD = a2aCard([
  { url: 'https://weather.example/a2a', protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
  { url: '127.0.0.1:50051', protocolBinding: 'GRPC', protocolVersion: '1.0' },
]);
const PAGES: Record<string, string> = {
  '/.well-known/agent-card.json': JSON.stringify(CARD),
  '/not-json': '<html>hello</html>',
  '/not-a-card': JSON.stringify({ hello: 'world' }),
  '/jsonrpc-only': JSON.stringify(
    a2aCard([{ url: 'https://weather.example/a2a', protocolBinding: 'JSONRPC', protocolVersion: '1.0' }]),
  ),
  '/two-grpc': JSON.stringify(
    a2aCard([
      { url: '127.0.0.1:50051', protocolBinding: 'GRPC', protocolVersion: '1.0' },
      { url: '127.0.0.1:50052', protocolBinding: 'GRPC', protocolVersion: '1.0' },
    ]),
  ),
};

describe('agentmesh register a2a', () => {
  let dir: string;
  let home: string;
  let mesh: RunningMesh;
  let pki: TestPki;
  let server: Server;
  let origin: string;
  let caFile: string;

  const cli = (args: string[]) =>
    runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: home },
      timeout: 60_000,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-register-'));
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
    // The external agent's card server: a certificate of a CA the mesh does not know.
    pki = await createTestPki();
    const tls = await pki.issue('partners', 'weather');
    caFile = pki.caFile;
    server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
      const page = PAGES[req.url ?? ''];
      res.writeHead(page ? 200 : 404, { 'content-type': 'application/json' }).end(page ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://localhost:${(server.address() as { port: number }).port}`;
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await new Promise((resolve) => server?.close(resolve));
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('registers the agent from its card; agents shows it and hands its A2A card out', async () => {
    const registered = await cli([
      'register',
      'a2a',
      origin,
      '--name',
      'partners/weather',
      '--owner',
      'partner-team',
      '--label',
      'tier=gold',
      '--ca',
      caFile,
    ]);
    expect(registered).toMatchObject({
      code: 0,
      stdout: 'registered partners/weather@2.3.0: external A2A agent at 127.0.0.1:50051 (registry revision 1)\n',
    });
    const listed = await cli(['agents', 'partners/weather']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('partners/weather@2.3.0  agent  ACTIVE  1 instance(s)  owner partner-team');
    expect(listed.stdout).toContain('    Answers weather questions for any city.\n');
    expect(listed.stdout).toContain('skills: forecast');
    expect(listed.stdout).toContain(`a2a card: external (${origin}/.well-known/agent-card.json)`);
    const json = await cli(['agents', '--json', '--name', 'partners/weather']);
    const [match] = JSON.parse(json.stdout) as { entry: { agent: Record<string, unknown> } }[];
    expect(match!.entry.agent).toMatchObject({
      labels: { tier: 'gold' },
      skills: [{ id: 'forecast', examples: [{ text: 'Will it rain in Lyon tomorrow?' }] }],
      endpoints: [{ address: '127.0.0.1:50051', instanceId: 'external' }],
      a2a: { external: true, caPem: readFileSync(caFile, 'utf8') },
    });
    const handed = await cli(['agents', 'partners/weather', '--a2a']);
    expect(handed.code).toBe(0);
    expect(JSON.parse(handed.stdout)).toEqual(CARD);
    // Again with the same card: nothing changes.
    const again = await cli([
      'register',
      'a2a',
      origin,
      '--name',
      'partners/weather',
      '--owner',
      'partner-team',
      '--label',
      'tier=gold',
      '--ca',
      caFile,
    ]);
    expect(again.stdout).toContain('(registry revision 1)');
    // A query string (often a token) is neither fetched with nor kept: the card's URL is the bare path.
    const queried = await cli([
      'register',
      'a2a',
      `${origin}/.well-known/agent-card.json?access_token=abc#top`,
      '--name',
      'partners/weather-q',
      '--owner',
      'partner-team',
      '--ca',
      caFile,
    ]);
    expect(queried.code).toBe(0);
    const kept = await cli(['agents', '--json', '--name', 'partners/weather-q']);
    expect(JSON.parse(kept.stdout)[0].entry.agent.a2a.cardUrl).toBe(`${origin}/.well-known/agent-card.json`);
  }, 120_000);

  test.each([
    [['--owner', 'x', '--ca', 'CA'], 2, '--name NS/NAME is required'],
    [['--name', 'partners/w', '--ca', 'CA'], 2, '--owner is required'],
    [['--name', 'partners/w', '--owner', 'x'], 1, 'cannot fetch the A2A card at'],
    [['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--url', '/not-json'], 1, 'did not answer JSON'],
    [['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--url', '/not-a-card'], 1, 'not a usable A2A card'],
    [['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--url', '/jsonrpc-only'], 1, 'no GRPC interface'],
    [['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--url', '/missing'], 1, 'HTTP 404'],
    [
      ['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--url', '/two-grpc'],
      1,
      'A2A card.supportedInterfaces: 2 GRPC interfaces with protocolVersion 1.0',
    ],
    [['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--userinfo'], 2, 'must not carry a user name or password'],
    [['--name', 'partners/w', '--owner', 'x', '--ca', 'CA', '--unreachable'], 1, 'ECONNREFUSED'],
  ])(
    'one-line error: %j',
    async (options, code, message) => {
      const at = options.indexOf('--url');
      const path = at >= 0 ? options.splice(at, 2)[1]! : '';
      const unreachable = options.indexOf('--unreachable');
      if (unreachable >= 0) options.splice(unreachable, 1);
      const userinfo = options.indexOf('--userinfo');
      if (userinfo >= 0) options.splice(userinfo, 1);
      const url =
        unreachable >= 0
          ? 'https://127.0.0.1:1'
          : userinfo >= 0
            ? origin.replace('https://', 'https://admin:s3cret@')
            : `${origin}${path}`;
      const args = options.map((o) => (o === 'CA' ? caFile : o));
      const result = await cli(['register', 'a2a', url, ...args]);
      expect(result.code).toBe(code);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toContain('s3cret');
    },
    60_000,
  );
});
