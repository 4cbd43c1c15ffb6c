// `npm start` pointed at an external issuer for people: the real launcher runs a small mesh (auth server,
// registry, one tool service) that trusts a real OpenID provider (oidc-provider over HTTPS); a person
// logs in at the terminal with the device authorization grant (RFC 8628) and the CLI then calls the
// registry with the person's own tokens, one per service (RFC 8707 resource = the service's audience).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchMesh, type RunningMesh } from '../devtools/launcher/launcher.js';
import { peopleIssuerFromEnv } from '../devtools/launcher/people-issuer.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';
import { deviceLoginClient, loginAtTerminal } from './helpers/people-login.js';
import { ROOT, runCommand } from './helpers/processes.js';

const CLIENT = 'agentmesh-people';

/** A local mesh of three services from the real launcher, in its own folder and port block. */
async function smallMesh(home: string, env: NodeJS.ProcessEnv): Promise<RunningMesh> {
  const manifest = join(home, '..', 'mesh-manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      trustDomain: 'agentmesh.local',
      services: [
        { name: 'agentmesh/auth', kind: 'auth', entry: 'services/auth/main.ts' },
        { name: 'agentmesh/registry', kind: 'registry', entry: 'services/registry/main.ts' },
        { name: 'banking/loan-math', kind: 'tool', entry: 'services/tools/loan-math/main.ts' },
      ],
    }),
  );
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchMesh({
        root: ROOT,
        home,
        manifest,
        basePort: 40_000 + Math.floor(Math.random() * 200) * 100,
        people: peopleIssuerFromEnv(env),
        // Debug: the services log each authorization decision with its subject.
        env: { AGENTMESH_LOG_LEVEL: 'debug' },
      });
    } catch (err) {
      // A port of the random block may be taken by another program: try another block.
      if (attempt >= 3 || !/is in use/.test((err as Error).message)) throw err;
    }
  }
}

describe('agentmesh login at an external people issuer (device authorization grant)', () => {
  let files: LocalMeshFiles;
  let idp: TestIdp;
  let dir: string;
  let home: string;
  let mesh: RunningMesh;

  const cli = (args: string[]) =>
    runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: home },
      timeout: 60_000,
    });

  const login = (person: string, o: { deny?: boolean } = {}) => loginAtTerminal(home, idp, person, o);

  beforeAll(async () => {
    files = await createLocalMeshFiles([]);
    idp = await startIdp({
      tls: { ...files.issue('agentmesh/idp'), ca: join(files.certs, 'ca.crt') },
      deviceFlow: true,
      clients: [deviceLoginClient(CLIENT)],
      people: { ada: { roles: ['loan-officer'] } },
    });
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-people-'));
    home = join(dir, 'home');
    mesh = await smallMesh(home, {
      AGENTMESH_PEOPLE_ISSUER: idp.issuer,
      AGENTMESH_PEOPLE_CLIENT_ID: CLIENT,
      AGENTMESH_PEOPLE_CA: join(files.certs, 'ca.crt'),
    });
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await idp?.close();
    files?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('mesh.json names the people issuer; every service, the auth server too, gets the trust file', () => {
    expect(mesh.file.people).toMatchObject({
      issuer: idp.issuer,
      clientId: CLIENT,
      preset: 'rfc9068',
      audience: 'spiffe',
    });
    const trust = JSON.parse(readFileSync(join(home, 'people-trust.json'), 'utf8')) as { issuers: unknown[] };
    expect(trust.issuers).toEqual([
      { issuer: idp.issuer, preset: 'rfc9068', audience: 'spiffe', ca: join(files.certs, 'ca.crt') },
    ]);
    // What each process was started with (Linux).
    for (const s of mesh.file.services)
      expect(readFileSync(`/proc/${mesh.supervisor.pid(s.name)}/environ`, 'utf8').split('\0')).toContain(
        `AGENTMESH_OAUTH_TRUST_FILE=${join(home, 'people-trust.json')}`,
      );
    // No dev login beside the issuer's: a dev-login "ada" would be the issuer's ada.
    const clients = JSON.parse(readFileSync(join(home, 'clients.json'), 'utf8')) as { impersonation?: boolean }[];
    expect(clients.filter((c) => c.impersonation)).toEqual([]);
  });

  test('without a login the CLI says so in one line', async () => {
    const r = await cli(['agents']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`agentmesh: not logged in: run agentmesh login (people log in at ${idp.issuer})\n`);
  });

  test('a person who refuses at the provider is told so', async () => {
    const r = await login('ada', { deny: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('agentmesh: login refused: access denied at the people issuer\n');
  }, 60_000);

  test('ada logs in with the device code; agentmesh agents calls the registry as ada', async () => {
    const r = await login('ada');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`logged in at ${idp.issuer}`);
    const stored = join(home, 'people-login.json');
    expect(statSync(stored).mode & 0o777).toBe(0o600);
    const { refreshToken } = JSON.parse(readFileSync(stored, 'utf8')) as { refreshToken: string };
    expect(r.stdout).not.toContain(refreshToken);

    const agents = await cli(['agents', '--json']);
    expect(agents.stderr).toBe('');
    expect(agents.code).toBe(0);
    expect(agents.stdout).toContain('banking/loan-math');
    // The registry saw ada, with a token of the provider: its log names the subject of the call.
    const registryLog = readFileSync(mesh.file.services.find((s) => s.kind === 'registry')!.log, 'utf8');
    expect(registryLog).toMatch(/"subject":"ada"/);
    expect(registryLog).not.toContain(refreshToken);
    // The access token for the registry was got for its audience, and is cached for the next call.
    const { tokens } = JSON.parse(readFileSync(stored, 'utf8')) as { tokens: Record<string, unknown> };
    expect(Object.keys(tokens)).toEqual(['spiffe://agentmesh.local/ns/agentmesh/sa/registry']);
  }, 60_000);

  test('a token for another service comes by refresh token, for that service’s audience, naming ada', async () => {
    const r = await cli(['token', '--audience', 'banking/loan-math']);
    expect(r.code).toBe(0);
    const claims = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({
      iss: idp.issuer,
      sub: 'ada',
      aud: 'spiffe://agentmesh.local/ns/banking/sa/loan-math',
      roles: ['loan-officer'],
    });
  });

  test('logout forgets the login; the next call needs a new one', async () => {
    const out = await cli(['logout']);
    expect(out.stdout).toBe(`logged out of ${idp.issuer}\n`);
    const r = await cli(['agents']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agentmesh: not logged in: run agentmesh login');
  });

  test('ada logs in again; once the issuer revokes that login the CLI says it expired and forgets it', async () => {
    expect((await login('ada')).code).toBe(0);
    const stored = join(home, 'people-login.json');
    const kept = JSON.parse(readFileSync(stored, 'utf8')) as { refreshToken: string; tokens: object };
    await (await idp.provider.RefreshToken.find(kept.refreshToken))!.destroy();
    // The cached access tokens have run out: the next call needs the refresh token.
    writeFileSync(stored, JSON.stringify({ ...kept, tokens: {} }), { mode: 0o600 });
    const r = await cli(['agents']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('agentmesh: login expired: run agentmesh login again\n');
    expect((await cli(['agents'])).stderr).toContain('agentmesh: not logged in');
  }, 60_000);
});
