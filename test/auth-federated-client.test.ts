// Workloads without secrets: the mesh's authorization server accepts a JWT another issuer gave a
// workload as its client credential (RFC 7523 §2.2), as Entra ID's workload identity federation
// accepts a Kubernetes projected service-account token. A real OpenID provider plays the
// cluster's service-account issuer; the auth server runs as a process configured from files and env.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { audienceScheme } from '../mesh/security/audiences.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const SA = 'system:serviceaccount:demo:agent';
const SA_SECRET = 'sa-secret-0123456789';
/** The audience scheme of the mesh in this test: tokens for demo/ledger carry https://ledger.demo.bank.example. */
const SCHEME = 'https://{name}.{namespace}.bank.example';
const audienceOf = audienceScheme(SCHEME, 'agentmesh.local');

/** The service-account issuer's client: client credentials give a JWT whose sub is the client id. */
const saClient = {
  client_id: SA,
  client_secret: SA_SECRET,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
};

let files: LocalMeshFiles;
let cluster: TestIdp;
let otherCluster: TestIdp;
let auth: ServiceProcess;
let tokenUrl: string;
let ca: string;

beforeAll(async () => {
  files = await createLocalMeshFiles([]);
  ca = readFileSync(join(files.certs, 'ca.crt'), 'utf8');
  const tls = { ...files.issue('agentmesh/idp'), ca: join(files.certs, 'ca.crt') };
  [cluster, otherCluster] = await Promise.all([
    startIdp({ tls, clients: [saClient] }),
    startIdp({ tls, clients: [saClient] }),
  ]);
  writeFileSync(
    files.clientsFile,
    JSON.stringify([
      {
        client_id: 'demo/agent',
        federated: { issuer: cluster.issuer, subject: SA },
        scopes: ['task.read'],
        audiences: ['demo/ledger', 'demo/vault', 'demo/archive'],
      },
      {
        client_id: 'demo/other',
        federated: { issuer: cluster.issuer, subject: 'system:serviceaccount:demo:other' },
        scopes: ['task.read'],
        audiences: ['demo/ledger'],
      },
    ]),
  );
  auth = startProcess(
    'services/auth/main.ts',
    files.serviceEnv('agentmesh/auth', {
      AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile,
      AGENTMESH_OAUTH_AUDIENCE: SCHEME,
    }),
  );
  tokenUrl = `${String((await waitForLog(auth, 'authorization server listening')).issuer)}/oauth2/token`;
}, 60_000);

afterAll(async () => {
  auth?.child.kill('SIGTERM');
  if (auth) expect(await auth.exited).toBe(0);
  await cluster?.close();
  await otherCluster?.close();
  files?.cleanup();
});

/** A service-account token of `issuer` addressed to `audience` (default: the mesh's token endpoint). */
async function saToken(issuer: TestIdp, audience = tokenUrl): Promise<string> {
  const answer = await issuer.token(SA, SA_SECRET, { grant_type: 'client_credentials', resource: audience });
  if (typeof answer.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(answer)}`);
  return answer.access_token;
}

/** A workload of the mesh authenticating with the credential in `file`, asking by RFC 8707 resource. */
function federatedClient(clientId: string, file: string): TokenClient {
  return new TokenClient({
    tokenUrl,
    clientId,
    auth: { method: 'federated', assertionFile: file },
    ca,
    audienceOf,
    request: ['resource'],
  });
}

/** A raw token request with a client assertion, answering status and body. */
async function rawRequest(form: Record<string, string>) {
  const answer = await httpRequest(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      ...form,
    }).toString(),
    ca,
  });
  const body = JSON.parse(answer.body.toString()) as {
    access_token?: string;
    error?: string;
    error_description?: string;
  };
  return { status: answer.status, ...body };
}

test('a workload gets a mesh token with its projected service-account token; the token carries its audience under the scheme', async () => {
  const file = join(files.dir, 'sa-token');
  writeFileSync(file, await saToken(cluster));
  const claims = decodeJwt(await federatedClient('demo/agent', file).getToken('demo/ledger', ['task.read']));
  expect(claims).toMatchObject({
    sub: 'demo/agent',
    client_id: 'demo/agent',
    aud: 'https://ledger.demo.bank.example',
    scope: 'task.read',
  });
  // Asked by the service name, the token carries the same audience; the credential may be presented again.
  const byName = await rawRequest({
    client_id: 'demo/agent',
    client_assertion: readFileSync(file, 'utf8'),
    audience: 'demo/ledger',
  });
  expect(byName.status).toBe(200);
  expect(decodeJwt(byName.access_token!).aud).toBe('https://ledger.demo.bank.example');
});

test('an audience the client is not registered for is an invalid_target, named', async () => {
  const answer = await rawRequest({
    client_id: 'demo/agent',
    client_assertion: await saToken(cluster),
    resource: 'https://payments.demo.bank.example',
  });
  expect(answer).toMatchObject({
    status: 400,
    error: 'invalid_target',
    error_description: expect.stringContaining('may not obtain tokens for https://payments.demo.bank.example'),
  });
});

test('refused: another subject, another issuer, another audience — each with its reason', async () => {
  const own = await saToken(cluster);
  expect(await rawRequest({ client_id: 'demo/other', client_assertion: own, resource: 'demo/ledger' })).toMatchObject({
    status: 401,
    error: 'invalid_client',
    error_description: `federated credential refused: subject ${SA} is not system:serviceaccount:demo:other, which client demo/other is federated as`,
  });
  const foreign = await saToken(otherCluster);
  expect(
    await rawRequest({ client_id: 'demo/agent', client_assertion: foreign, resource: 'demo/ledger' }),
  ).toMatchObject({
    status: 401,
    error: 'invalid_client',
    error_description: `federated credential refused: issued by ${otherCluster.issuer}, but client demo/agent is federated with ${cluster.issuer}`,
  });
  const elsewhere = await saToken(cluster, 'api://someone-else');
  expect(
    await rawRequest({ client_id: 'demo/agent', client_assertion: elsewhere, resource: 'demo/ledger' }),
  ).toMatchObject({
    status: 401,
    error: 'invalid_client',
    error_description: `federated credential refused: its audience is not ${tokenUrl}`,
  });
  // Refusals are logged and audited, credentials never.
  for (const credential of [own, foreign, elsewhere]) expect(auth.stdout() + auth.stderr()).not.toContain(credential);
  expect(auth.stdout()).toContain('token request refused');
});

test('rotation: the credential file is read at every request', async () => {
  const file = join(files.dir, 'rotating-sa-token');
  const tokens = federatedClient('demo/agent', file);
  writeFileSync(file, await saToken(cluster));
  expect(decodeJwt(await tokens.getToken('demo/vault')).aud).toBe('https://vault.demo.bank.example');
  // The kubelet writes another token: a credential of another issuer is refused at the next request...
  writeFileSync(file, await saToken(otherCluster));
  await expect(tokens.getToken('demo/archive')).rejects.toThrow(/invalid_client.*issued by/);
  // ...and a fresh one of the cluster is accepted.
  writeFileSync(file, await saToken(cluster));
  expect(decodeJwt(await tokens.getToken('demo/archive')).aud).toBe('https://archive.demo.bank.example');
});
