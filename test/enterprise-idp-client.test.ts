// The client side of issue 19 item 4 against a real OpenID provider: a calling workload set up
// from the environment (clientSecurityFromEnv) asks for its tokens the way its preset says the
// issuer wants the audience named, authenticating with a secret or a private key; the secured
// service configured with the same settings accepts the token in a full mTLS call.
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { clientSecurityFromEnv, type ClientSecuritySetup } from '../mesh/security/security-config.js';
import { createLocalMeshFiles } from './helpers/local-auth.js';
import { MeshEnv, startSecuredService } from './helpers/idp-service.js';
import { captureLogger } from './helpers/log-capture.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';

const SECRET = 'test/caller-secret-0123456789';
const secretClient = {
  client_id: 'test/caller',
  client_secret: SECRET,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
};

let mesh: MeshEnv;
let keyedClient: Record<string, unknown>;

beforeAll(async () => {
  const files = await createLocalMeshFiles([]);
  const keys = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(keys.publicKey);
  keyedClient = {
    client_id: 'test/keyed',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, alg: 'ES256', use: 'sig' }] },
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  };
  files.secrets['agentmesh/clients/test/agent'] = { client_secret: 'test/agent-secret-0123456789' };
  files.secrets['agentmesh/clients/test/caller'] = { client_secret: SECRET };
  files.secrets['agentmesh/clients/test/keyed'] = { private_key: await exportPKCS8(keys.privateKey) };
  files.writeSecrets();
  mesh = new MeshEnv(files);
}, 60_000);

afterAll(() => mesh?.files.cleanup());

/** Plain objects and arrays rebuilt in this module's realm. */
function inThisRealm(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inThisRealm);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value)?.constructor?.name === 'Object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inThisRealm(v)]));
  return value;
}

/**
 * Starts an IdP whose clients keep plain objects: oidc-provider copies static clients with the
 * global structuredClone, which under jest's VM modules makes objects of the outer realm, and
 * then refuses a client's `jwks` keys as not plain objects (`constructor === Object`).
 */
async function startIdpInThisRealm(options: Parameters<typeof startIdp>[0]): Promise<TestIdp> {
  const outer = globalThis.structuredClone;
  globalThis.structuredClone = ((v: unknown, o?: Parameters<typeof outer>[1]) => inThisRealm(outer(v, o))) as never;
  try {
    return await startIdp(options);
  } finally {
    globalThis.structuredClone = outer;
  }
}

/** What the IdP's token endpoint was asked: the form each request sent. */
function recordTokenRequests(idp: TestIdp): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = [];
  idp.provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token') seen.push({ ...((ctx.oidc as unknown as { body?: object })?.body ?? {}) });
  });
  return seen;
}

/** The calling workload test/caller set up from the environment with `settings`. */
async function callerWith(settings: Record<string, string>): Promise<ClientSecuritySetup> {
  const secrets = new FileSecretsProvider(mesh.files.secretsFile);
  await secrets.start();
  const env = mesh.envOf('test/caller', settings);
  return clientSecurityFromEnv(secrets, captureLogger('test/caller').log, env);
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** Gets a token for test/agent as the caller configured by `settings`, then calls test/agent configured alike. */
async function roundTrip(idp: TestIdp, settings: Record<string, string>, callerSettings: Record<string, string> = {}) {
  const shared = { AGENTMESH_OAUTH_ISSUER: idp.issuer, ...settings };
  const caller = await callerWith({ ...shared, ...callerSettings });
  const service = await startSecuredService(mesh, mesh.envOf('test/agent', shared));
  try {
    const token = await caller.tokens.getToken('test/agent', ['task.read']);
    const principal = await service.getTask(token);
    return { claims: claimsOf(token), principal };
  } finally {
    await service.close();
    caller.close();
  }
}

describe('an RFC 9068 provider (RFC 8707 resource indicators)', () => {
  let idp: TestIdp;
  let requests: Record<string, unknown>[];
  beforeAll(async () => {
    idp = await startIdpInThisRealm({
      tls: { ...mesh.files.issue('agentmesh/idp'), ca: mesh.caFile },
      clients: [secretClient, keyedClient as never],
    });
    requests = recordTokenRequests(idp);
  }, 60_000);
  afterAll(async () => idp?.close());

  test.each([
    ['spiffe', 'spiffe://agentmesh.local/ns/test/sa/agent'],
    ['https://{name}.{namespace}.agents.bank.example', 'https://agent.test.agents.bank.example'],
  ])('client_secret_basic, audience scheme %s: resource=%s, accepted by the service', async (scheme, audience) => {
    const { claims, principal } = await roundTrip(idp, {
      AGENTMESH_OAUTH_PRESET: 'rfc9068',
      AGENTMESH_OAUTH_AUDIENCE: scheme,
    });
    expect(requests.at(-1)).toMatchObject({ grant_type: 'client_credentials', resource: audience, scope: 'task.read' });
    expect(claims).toMatchObject({ aud: audience, client_id: 'test/caller' });
    expect(principal).toMatchObject({ subject: 'test/caller', clientId: 'test/caller', scopes: ['task.read'] });
  });

  test('private_key_jwt: the private key from the secret store signs the client assertion', async () => {
    const { claims, principal } = await roundTrip(
      idp,
      { AGENTMESH_OAUTH_PRESET: 'rfc9068', AGENTMESH_OAUTH_AUDIENCE: 'spiffe' },
      {
        AGENTMESH_OAUTH_CLIENT_ID: 'test/keyed',
        AGENTMESH_OAUTH_CLIENT_AUTH: 'private_key_jwt',
        AGENTMESH_OAUTH_CLIENT_SECRET_PATH: 'agentmesh/clients/test/keyed',
      },
    );
    expect(requests.at(-1)).toMatchObject({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
    expect(claims).toMatchObject({ aud: 'spiffe://agentmesh.local/ns/test/sa/agent', client_id: 'test/keyed' });
    expect(principal).toMatchObject({ subject: 'test/keyed', clientId: 'test/keyed', scopes: ['task.read'] });
  });

  test('resource requested with the default "service" scheme: startup refuses, naming AGENTMESH_OAUTH_AUDIENCE', async () => {
    await expect(
      callerWith({ AGENTMESH_OAUTH_ISSUER: idp.issuer, AGENTMESH_OAUTH_REQUEST: 'resource' }),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      message:
        'invalid configuration: AGENTMESH_OAUTH_AUDIENCE gives ns/name, not an absolute URI, which RFC 8707 requires of a resource indicator (use spiffe or a URI template)',
    });
  });
});

test('an Entra-shaped provider: scope api://agentmesh-agent/.default, the app role as scope', async () => {
  const idp = await startIdp({
    tls: { ...mesh.files.issue('agentmesh/idp'), ca: mesh.caFile },
    clients: [secretClient],
    shape: 'entra',
    oidcOnly: true,
    appRoles: { 'test/caller': ['task.read'] },
  });
  const requests = recordTokenRequests(idp);
  try {
    const { claims, principal } = await roundTrip(idp, {
      AGENTMESH_OAUTH_PRESET: 'entra',
      AGENTMESH_OAUTH_AUDIENCE: 'api://agentmesh-{name}',
    });
    expect(requests.at(-1)).toMatchObject({ scope: 'api://agentmesh-agent/.default' });
    expect(requests.at(-1)?.resource).toBeUndefined();
    expect(claims).toMatchObject({ aud: 'api://agentmesh-agent', azp: 'test/caller', roles: ['task.read'] });
    expect(principal).toMatchObject({ clientId: 'test/caller', scopes: ['task.read'] });
  } finally {
    await idp.close();
  }
});

test("an Okta-shaped provider: scope only, the authorization server's one audience", async () => {
  const idp = await startIdp({
    tls: { ...mesh.files.issue('agentmesh/idp'), ca: mesh.caFile },
    clients: [secretClient],
    shape: 'okta',
    defaultResource: 'api://default',
  });
  const requests = recordTokenRequests(idp);
  try {
    const { claims, principal } = await roundTrip(idp, {
      AGENTMESH_OAUTH_PRESET: 'okta',
      AGENTMESH_OAUTH_AUDIENCE: 'api://default',
    });
    expect(requests.at(-1)).toMatchObject({ grant_type: 'client_credentials', scope: 'task.read' });
    expect(requests.at(-1)?.resource).toBeUndefined();
    expect(requests.at(-1)?.audience).toBeUndefined();
    expect(claims).toMatchObject({ aud: 'api://default', cid: 'test/caller', scp: ['task.read'] });
    expect(principal).toMatchObject({ clientId: 'test/caller', scopes: ['task.read'] });
  } finally {
    await idp.close();
  }
});
