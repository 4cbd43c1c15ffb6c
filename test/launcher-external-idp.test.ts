// The launcher's people issuer settings (AGENTMESH_PEOPLE_*): what a bad one says, and the trust file it writes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { peopleIssuerFromEnv, writePeopleTrustFile } from '../devtools/launcher/people-issuer.js';
import { ROOT, runCommand } from './helpers/processes.js';

const ISSUER = 'https://login.example.com/tenant/v2.0';

describe('AGENTMESH_PEOPLE_* settings of npm start', () => {
  test('none set: nothing changes', () => {
    expect(peopleIssuerFromEnv({})).toBeUndefined();
  });

  test('defaults: rfc9068 claims, spiffe audiences (RFC 8707 resources are URIs), the people scopes', () => {
    expect(peopleIssuerFromEnv({ AGENTMESH_PEOPLE_ISSUER: ISSUER, AGENTMESH_PEOPLE_CLIENT_ID: 'cli' })).toEqual({
      issuer: ISSUER,
      clientId: 'cli',
      preset: 'rfc9068',
      audience: 'spiffe',
      scopes: ['task.read', 'task.write', 'registry.read'],
    });
  });

  test.each([
    [{ AGENTMESH_PEOPLE_CLIENT_ID: 'cli' }, 'AGENTMESH_PEOPLE_CLIENT_ID is set, but AGENTMESH_PEOPLE_ISSUER is not'],
    [{ AGENTMESH_PEOPLE_ISSUER: 'login.example.com' }, 'AGENTMESH_PEOPLE_ISSUER is not a URL (login.example.com)'],
    [
      { AGENTMESH_PEOPLE_ISSUER: 'http://login.example.com' },
      'AGENTMESH_PEOPLE_ISSUER must be an https:// URL (http://login.example.com)',
    ],
    [
      { AGENTMESH_PEOPLE_ISSUER: ISSUER },
      'AGENTMESH_PEOPLE_CLIENT_ID is required with AGENTMESH_PEOPLE_ISSUER: the public client the CLI and console log people in with',
    ],
    [
      { AGENTMESH_PEOPLE_ISSUER: ISSUER, AGENTMESH_PEOPLE_CLIENT_ID: 'cli', AGENTMESH_PEOPLE_PRESET: 'ping' },
      'AGENTMESH_PEOPLE_PRESET is ping: use one of agentmesh, rfc9068, entra, okta, keycloak',
    ],
    [
      { AGENTMESH_PEOPLE_ISSUER: ISSUER, AGENTMESH_PEOPLE_CLIENT_ID: 'cli', AGENTMESH_PEOPLE_AUDIENCE: 'service' },
      'AGENTMESH_PEOPLE_AUDIENCE gives ns/name, not an absolute URI, which RFC 8707 requires of a resource indicator (use spiffe or a URI template)',
    ],
    [
      {
        AGENTMESH_PEOPLE_ISSUER: ISSUER,
        AGENTMESH_PEOPLE_CLIENT_ID: 'cli',
        AGENTMESH_PEOPLE_CA: '/nonexistent/ca.pem',
      },
      'AGENTMESH_PEOPLE_CA names no file (/nonexistent/ca.pem)',
    ],
  ])('%j is refused in one line naming the setting', (env, message) => {
    expect(() => peopleIssuerFromEnv(env)).toThrow(`invalid configuration: ${message}`);
  });

  test('the trust file: the issuer with its preset and scheme; without a CA setting, the public roots', () => {
    const home = mkdtempSync(join(tmpdir(), 'agentmesh-people-trust-'));
    try {
      const people = peopleIssuerFromEnv({
        AGENTMESH_PEOPLE_ISSUER: ISSUER,
        AGENTMESH_PEOPLE_CLIENT_ID: 'cli',
        AGENTMESH_PEOPLE_PRESET: 'entra',
        AGENTMESH_PEOPLE_AUDIENCE: 'api://agentmesh/{service}',
      })!;
      const file = writePeopleTrustFile(home, people);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
        issuers: [
          { issuer: ISSUER, preset: 'entra', audience: 'api://agentmesh/{service}', ca: join(home, 'people-ca.pem') },
        ],
      });
      expect(readFileSync(join(home, 'people-ca.pem'), 'utf8')).toContain(rootCertificates[0]!);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('npm start stops at once on a bad setting, with the line naming it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'agentmesh-people-start-'));
    try {
      const r = await runCommand(process.execPath, ['--import', 'tsx', join(ROOT, 'devtools/launcher/start.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          AGENTMESH_HOME: home,
          AGENTMESH_PEOPLE_ISSUER: 'http://login.example.com',
          AGENTMESH_PEOPLE_CLIENT_ID: 'cli',
        },
        timeout: 60_000,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'agentmesh: invalid configuration: AGENTMESH_PEOPLE_ISSUER must be an https:// URL (http://login.example.com)\n',
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);
});
