// Item 5 of issue 19 against real OpenID providers: a service trusting its primary issuer
// (RFC 9068) and, through AGENTMESH_OAUTH_TRUST_FILE, an Entra-shaped one with its own audience
// scheme and claim mapping; a token is checked only against the issuer it names.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from '../mesh/core/index.js';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { securityFromEnv } from '../mesh/security/security-config.js';
import { createLocalMeshFiles } from './helpers/local-auth.js';
import { MeshEnv, startSecuredService, type SecuredService } from './helpers/idp-service.js';
import { captureLogger } from './helpers/log-capture.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';

const SECRET = 'test/caller-secret-0123456789';
const CALLBACK = 'https://app.example/callback';
const caller = {
  client_id: 'test/caller',
  client_secret: SECRET,
  grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
  redirect_uris: [CALLBACK],
  response_types: ['code' as const],
};
const SPIFFE_AUDIENCE = 'spiffe://agentmesh.local/ns/test/sa/agent';

let mesh: MeshEnv;
let primary: TestIdp;
let entra: TestIdp;
/** Signs with its own keys but writes the primary's identifier in `iss`. */
let rogue: TestIdp;
let service: SecuredService;
let trustFile: string;

/** The service's environment: primary issuer + a trust file. */
const envWith = (file: string) =>
  mesh.envOf('test/agent', {
    AGENTMESH_OAUTH_ISSUER: primary.issuer,
    AGENTMESH_OAUTH_PRESET: 'rfc9068',
    AGENTMESH_OAUTH_AUDIENCE: 'spiffe',
    AGENTMESH_OAUTH_TRUST_FILE: file,
  });

function writeTrustFile(name: string, content: unknown): string {
  const file = join(mesh.files.dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

beforeAll(async () => {
  const files = await createLocalMeshFiles([]);
  files.secrets['agentmesh/clients/test/agent'] = { client_secret: 'test/agent-secret-0123456789' };
  files.writeSecrets();
  mesh = new MeshEnv(files);
  const tls = { ...files.issue('agentmesh/idp'), ca: mesh.caFile };
  primary = await startIdp({ tls, clients: [caller], appRoles: { 'test/caller': ['operator'] } });
  entra = await startIdp({
    tls,
    clients: [caller],
    shape: 'entra',
    oidcOnly: true,
    people: { ada: { roles: ['approver'] } },
  });
  rogue = await startIdp({ tls, clients: [caller], issClaim: primary.issuer });
  trustFile = writeTrustFile('trust.json', {
    issuers: [{ issuer: entra.issuer, preset: 'entra', audience: 'api://agentmesh-{name}' }],
  });
  service = await startSecuredService(mesh, envWith(trustFile));
}, 60_000);

afterAll(async () => {
  await service?.close();
  for (const idp of [primary, entra, rogue]) await idp?.close();
  mesh?.files.cleanup();
});

async function clientToken(idp: TestIdp, form: Record<string, string>): Promise<string> {
  const answer = await idp.token('test/caller', SECRET, { grant_type: 'client_credentials', ...form });
  if (typeof answer.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(answer)}`);
  return answer.access_token;
}

test("the primary issuer's workload token: RFC 9068 mapping, SPIFFE audience", async () => {
  const token = await clientToken(primary, { resource: SPIFFE_AUDIENCE, scope: 'task.read' });
  expect(await service.getTask(token)).toMatchObject({
    subject: 'test/caller',
    clientId: 'test/caller',
    scopes: ['task.read'],
    // The token carries roles, but a workload's own token (sub = client) has no person roles.
    roles: [],
    workload: true,
  });
});

test("the trusted Entra issuer's person token: its own audience scheme and mapping (oid, scp, roles)", async () => {
  const answer = await entra.login('ada', {
    clientId: 'test/caller',
    clientSecret: SECRET,
    redirectUri: CALLBACK,
    resource: 'api://agentmesh-agent',
    scope: 'openid offline_access task.read',
  });
  const principal = await service.getTask(String(answer.access_token));
  expect(principal).toMatchObject({ subject: 'ada', clientId: 'test/caller', roles: ['approver'] });
  expect(principal.scopes).toContain('task.read');
  // Presented again, the token is the one its issuer's verifier and the interceptor remember: the same principal.
  expect(await service.getTask(String(answer.access_token))).toEqual(principal);
});

test("each issuer's audiences are its own: an Entra token for the primary's audience is refused, the trust file entry named", async () => {
  const token = await clientToken(entra, { resource: SPIFFE_AUDIENCE, scope: 'task.read' });
  const err = await service.getTask(token).catch((e: unknown) => e);
  expect(err).toMatchObject({
    code: Code.UNAUTHENTICATED,
    message: expect.stringContaining(`audience ${SPIFFE_AUDIENCE} (accepted: api://agentmesh-agent)`),
  });
  const logged = service.logs.lines.filter((l) => l.msg === 'token refused').at(-1) as { err: { message: string } };
  expect(logged.err.message).toContain(`AGENTMESH_OAUTH_TRUST_FILE ${trustFile}: issuers.0.audience accepts`);
});

test("a token signed by another provider claiming the primary's iss is refused (its signature)", async () => {
  const token = await clientToken(rogue, { resource: SPIFFE_AUDIENCE, scope: 'task.read' });
  expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ iss: primary.issuer });
  const err = await service.getTask(token).catch((e: unknown) => e);
  expect(err).toMatchObject({
    code: Code.UNAUTHENTICATED,
    message: expect.stringContaining('token signature invalid'),
  });
});

test('an issuer neither configured nor in the trust file: both trusted ones named', async () => {
  const stranger = await startIdp({
    tls: { ...mesh.files.issue('agentmesh/idp'), ca: mesh.caFile },
    clients: [caller],
  });
  try {
    const err = await service
      .getTask(await clientToken(stranger, { resource: SPIFFE_AUDIENCE, scope: 'task.read' }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: expect.stringContaining(
        `token issuer not trusted: ${stranger.issuer} (trusted: ${primary.issuer}, ${entra.issuer})`,
      ),
    });
  } finally {
    await stranger.close();
  }
});

describe('a trust file that cannot be used stops startup with one line naming it and the entry', () => {
  const startup = async (file: string) => {
    const secrets = new FileSecretsProvider(mesh.files.secretsFile);
    await secrets.start();
    try {
      const setup = await securityFromEnv(secrets, captureLogger('test/agent').log, envWith(file));
      setup.close();
      return 'started';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await secrets.close();
    }
  };

  test('the primary issuer listed again', async () => {
    const file = writeTrustFile('again.json', { issuers: [{ issuer: primary.issuer }] });
    expect(await startup(file)).toBe(
      `invalid configuration: AGENTMESH_OAUTH_TRUST_FILE ${file}: issuers.0: ${primary.issuer} is trusted already (each issuer once)`,
    );
  });

  test.each([
    ['an unknown preset', { preset: 'auth0' }, /issuers\.0\.preset /],
    ['an unknown placeholder', { audience: 'api://{app}' }, /issuers\.0\.audience has an unknown placeholder \{app\}/],
    ['an unknown field', { audiences: ['x'] }, /issuers\.0 .*audiences/],
  ])('%s', async (_name, entry, problem) => {
    const file = writeTrustFile('bad.json', { issuers: [{ issuer: entra.issuer, ...entry }] });
    const message = await startup(file);
    expect(message).toMatch(new RegExp(`^invalid configuration: AGENTMESH_OAUTH_TRUST_FILE ${file}: `));
    expect(message).toMatch(problem);
    expect(message).not.toContain('\n');
  });

  test('an issuer publishing no metadata', async () => {
    const file = writeTrustFile('nowhere.json', { issuers: [{ issuer: `${entra.issuer}/nothing-here` }] });
    expect(await startup(file)).toMatch(/^invalid configuration: AGENTMESH_OAUTH_TRUST_FILE .*publishes no metadata/);
  });
});
