// Item 2 of issue 19 against a real OpenID provider: a token that does not fit the service's
// settings is refused with UNAUTHENTICATED and a message saying what the token has and what is
// accepted; the service's log names the setting that decided it.
import { Code } from '../mesh/core/index.js';
import { createLocalMeshFiles } from './helpers/local-auth.js';
import { MeshEnv, startSecuredService, type SecuredService } from './helpers/idp-service.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';

const SECRET = 'test/caller-secret-0123456789';
const caller = {
  client_id: 'test/caller',
  client_secret: SECRET,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
};

let mesh: MeshEnv;
/** The service's trusted issuer (RFC 9068, ES256) and an untrusted one signing RS256. */
let trusted: TestIdp;
let other: TestIdp;
let service: SecuredService;
const AUDIENCE = 'spiffe://agentmesh.local/ns/test/sa/agent';

beforeAll(async () => {
  const files = await createLocalMeshFiles([]);
  files.secrets['agentmesh/clients/test/agent'] = { client_secret: 'test/agent-secret-0123456789' };
  files.writeSecrets();
  mesh = new MeshEnv(files);
  const tls = { ...files.issue('agentmesh/idp'), ca: mesh.caFile };
  trusted = await startIdp({ tls, clients: [caller], appRoles: { 'test/caller': ['approver'] } });
  other = await startIdp({ tls, clients: [caller], alg: 'RS256' });
  service = await startSecuredService(
    mesh,
    mesh.envOf('test/agent', {
      AGENTMESH_OAUTH_ISSUER: trusted.issuer,
      AGENTMESH_OAUTH_PRESET: 'rfc9068',
      AGENTMESH_OAUTH_AUDIENCE: 'spiffe',
    }),
  );
}, 60_000);

afterAll(async () => {
  await service?.close();
  await trusted?.close();
  await other?.close();
  mesh?.files.cleanup();
});

async function tokenOf(idp: TestIdp, form: Record<string, string>): Promise<string> {
  const answer = await idp.token('test/caller', SECRET, { grant_type: 'client_credentials', ...form });
  if (typeof answer.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(answer)}`);
  return answer.access_token;
}

/** The refusal of GetTask with `token`, and the service's log line about it. */
async function refusal(s: SecuredService, token: string) {
  const before = s.seen.length;
  const err = await s.getTask(token).catch((e: unknown) => e);
  expect(s.seen).toHaveLength(before);
  const logged = s.logs.lines.filter((l) => l.msg === 'token refused').at(-1) as
    { reason: string; err?: { message: string } } | undefined;
  return { err: err as { code: number; message: string }, logged };
}

test('a token for another service: the audiences accepted, AGENTMESH_OAUTH_AUDIENCE in the log', async () => {
  const token = await tokenOf(trusted, { resource: 'spiffe://agentmesh.local/ns/test/sa/other', scope: 'task.read' });
  const { err, logged } = await refusal(service, token);
  expect(err.code).toBe(Code.UNAUTHENTICATED);
  expect(err.message).toContain(
    `token not issued for this service: audience spiffe://agentmesh.local/ns/test/sa/other (accepted: ${AUDIENCE})`,
  );
  expect(logged?.reason).toBe('wrong_audience');
  expect(logged?.err?.message).toContain(`AGENTMESH_OAUTH_AUDIENCE accepts ${AUDIENCE}`);
});

test('a token of an issuer the service does not trust: named, with the one it trusts', async () => {
  const token = await tokenOf(other, { resource: AUDIENCE, scope: 'task.read' });
  const { err, logged } = await refusal(service, token);
  expect(err.code).toBe(Code.UNAUTHENTICATED);
  expect(err.message).toContain(`token issuer not trusted: ${other.issuer} (trusted: ${trusted.issuer})`);
  expect(logged?.err?.message).toContain(`AGENTMESH_OAUTH_ISSUER is ${trusted.issuer}`);
});

test('an algorithm the service does not allow (RS256 while AGENTMESH_OAUTH_ALGORITHMS=ES256)', async () => {
  const strict = await startSecuredService(
    mesh,
    mesh.envOf('test/agent', {
      AGENTMESH_OAUTH_ISSUER: other.issuer,
      AGENTMESH_OAUTH_PRESET: 'rfc9068',
      AGENTMESH_OAUTH_AUDIENCE: 'spiffe',
      AGENTMESH_OAUTH_ALGORITHMS: 'ES256',
    }),
  );
  try {
    const { err, logged } = await refusal(strict, await tokenOf(other, { resource: AUDIENCE, scope: 'task.read' }));
    expect(err.code).toBe(Code.UNAUTHENTICATED);
    expect(err.message).toContain('token algorithm not allowed: RS256 (allowed: ES256)');
    expect(logged?.err?.message).toContain('AGENTMESH_OAUTH_ALGORITHMS allows ES256');
  } finally {
    await strict.close();
  }
});

test('what the caller wrote in the token is echoed on one line', async () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const forged = `${b64({ alg: 'RS256\nforged: yes', typ: 'at+jwt' })}.${b64({ iss: trusted.issuer, aud: AUDIENCE })}.c2ln`;
  const { err } = await refusal(service, forged);
  expect(err.code).toBe(Code.UNAUTHENTICATED);
  expect(err.message).toContain('token algorithm not allowed: RS256?forged: yes (allowed: ');
});

test('an expired token, with no clock skew tolerated', async () => {
  const shortLived = await startIdp({
    tls: { ...mesh.files.issue('agentmesh/idp'), ca: mesh.caFile },
    clients: [caller],
    ttlSec: 1,
  });
  const strict = await startSecuredService(
    mesh,
    mesh.envOf('test/agent', {
      AGENTMESH_OAUTH_ISSUER: shortLived.issuer,
      AGENTMESH_OAUTH_PRESET: 'rfc9068',
      AGENTMESH_OAUTH_AUDIENCE: 'spiffe',
      AGENTMESH_OAUTH_CLOCK_SKEW_S: '0',
    }),
  );
  try {
    const token = await tokenOf(shortLived, { resource: AUDIENCE, scope: 'task.read' });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    // The condition itself, polled: the token's expiry has passed on this clock.
    while (Date.now() / 1000 <= exp.exp) await new Promise((r) => setTimeout(r, 50));
    const { err, logged } = await refusal(strict, token);
    expect(err.code).toBe(Code.UNAUTHENTICATED);
    expect(err.message).toContain(`token expired at ${new Date(exp.exp * 1000).toISOString()}`);
    expect(logged?.err?.message).toContain('AGENTMESH_OAUTH_CLOCK_SKEW_S=0');
  } finally {
    await strict.close();
    await shortLived.close();
  }
});

describe('an Entra-shaped issuer', () => {
  let entra: TestIdp;
  beforeAll(async () => {
    entra = await startIdp({
      tls: { ...mesh.files.issue('agentmesh/idp'), ca: mesh.caFile },
      clients: [
        caller,
        {
          client_id: 'test/app',
          client_secret: SECRET,
          grant_types: ['authorization_code', 'refresh_token'],
          redirect_uris: ['https://127.0.0.1/callback'],
          response_types: ['code'],
        },
      ],
      shape: 'entra',
      oidcOnly: true,
      appRoles: { 'test/caller': ['task.read'] },
    });
  }, 60_000);
  afterAll(async () => entra?.close());

  const entraEnv = (extra: Record<string, string>) =>
    mesh.envOf('test/agent', {
      AGENTMESH_OAUTH_ISSUER: entra.issuer,
      AGENTMESH_OAUTH_AUDIENCE: 'api://agentmesh-{name}',
      ...extra,
    });
  const appToken = () => tokenOf(entra, { scope: 'api://agentmesh-agent/.default' });

  test('its "JWT" tokens under preset rfc9068 (at+jwt required): the typ named, AGENTMESH_OAUTH_TOKEN_TYPE in the log', async () => {
    const s = await startSecuredService(mesh, entraEnv({ AGENTMESH_OAUTH_PRESET: 'rfc9068' }));
    try {
      const { err, logged } = await refusal(s, await appToken());
      expect(err.code).toBe(Code.UNAUTHENTICATED);
      expect(err.message).toContain('not an access token (typ): JWT, expected at+jwt');
      expect(logged?.err?.message).toContain('AGENTMESH_OAUTH_TOKEN_TYPE');
    } finally {
      await s.close();
    }
  });

  test("an ID token naming the service's application as audience is not an access token (no typ to tell them apart)", async () => {
    const s = await startSecuredService(
      mesh,
      entraEnv({ AGENTMESH_OAUTH_PRESET: 'entra', AGENTMESH_OAUTH_EXTRA_AUDIENCES: 'test/app' }),
    );
    try {
      const answer = await entra.login('ada', {
        clientId: 'test/app',
        clientSecret: SECRET,
        redirectUri: 'https://127.0.0.1/callback',
        resource: 'api://agentmesh-agent',
        scope: 'openid offline_access task.read',
      });
      expect(typeof answer.id_token).toBe('string');
      const { err } = await refusal(s, String(answer.id_token));
      expect(err.code).toBe(Code.UNAUTHENTICATED);
      expect(err.message).toContain('an ID token, not an access token');
      // The access token of the same sign-in is accepted.
      await expect(s.getTask(String(answer.access_token))).resolves.toMatchObject({ subject: 'ada' });
    } finally {
      await s.close();
    }
  });

  test('a token without the subject claim the mapping names', async () => {
    const s = await startSecuredService(
      mesh,
      entraEnv({ AGENTMESH_OAUTH_PRESET: 'entra', AGENTMESH_OAUTH_SUBJECT_CLAIMS: 'upn' }),
    );
    try {
      const { err, logged } = await refusal(s, await appToken());
      expect(err.code).toBe(Code.UNAUTHENTICATED);
      expect(err.message).toContain('token has no subject claim (upn)');
      expect(logged?.err?.message).toContain('AGENTMESH_OAUTH_SUBJECT_CLAIMS names upn');
    } finally {
      await s.close();
    }
  });

  test('a scope the token lacks under the mapping: PERMISSION_DENIED naming it', async () => {
    const s = await startSecuredService(mesh, entraEnv({ AGENTMESH_OAUTH_PRESET: 'entra' }));
    try {
      const token = await appToken();
      // task.read (an app role) is granted: the same token reads, but may not send.
      await expect(s.getTask(token)).resolves.toMatchObject({ scopes: ['task.read'] });
      await expect(s.sendTask(token)).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: expect.stringContaining('token lacks scope task.write for agentmesh.v1.AgentService/SendTask'),
      });
    } finally {
      await s.close();
    }
  });
});
