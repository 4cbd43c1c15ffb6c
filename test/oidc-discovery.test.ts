// A service configured with an issuer that publishes only OpenID Connect discovery, as Entra ID
// does: a real, certified OpenID provider (oidc-provider from npm) over HTTPS with the mesh CA.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { httpRequest } from '../mesh/security/https-client.js';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { metadataUrls } from '../mesh/security/issuer-metadata.js';
import { clientSecurityFromEnv } from '../mesh/security/security-config.js';
import { captureLogger } from './helpers/log-capture.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';

let files: LocalMeshFiles;
let server: Server;
let issuer: string;

beforeAll(async () => {
  files = await createLocalMeshFiles([]);
  files.secrets['agentmesh/clients/demo/agent'] = { client_secret: 'agent-secret-value-123' };
  files.writeSecrets();
  const tls = files.issue('agentmesh/auth');
  // The provider needs its issuer (with the port) before it exists: bind first, then hand requests over.
  const app: { handle?: ReturnType<Provider['callback']> } = {};
  // Served as Entra ID serves its issuers: OpenID Connect discovery only, no RFC 8414 document.
  server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    if (req.url?.startsWith('/.well-known/oauth-authorization-server')) return void res.writeHead(404).end();
    void app.handle!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'demo/agent',
        client_secret: 'agent-secret-value-123',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  });
  app.handle = provider.callback();
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  files?.cleanup();
});

/** Sets up a calling workload from the environment, pointed at `issuerUrl`. */
async function setupWith(issuerUrl: string) {
  const secrets = new FileSecretsProvider(files.secretsFile);
  await secrets.start();
  const env = files.serviceEnv('demo/agent', {
    AGENTMESH_OAUTH_ISSUER: issuerUrl,
    AGENTMESH_OAUTH_CA: join(files.certs, 'ca.crt'),
  });
  return clientSecurityFromEnv(secrets, captureLogger('demo/agent').log, env);
}

test('the endpoints come from OpenID Connect discovery when the issuer publishes no RFC 8414 metadata', async () => {
  const ca = readFileSync(join(files.certs, 'ca.crt'), 'utf8');
  expect((await httpRequest(`${issuer}/.well-known/oauth-authorization-server`, { ca })).status).toBe(404);
  const discovery = JSON.parse(
    (await httpRequest(`${issuer}/.well-known/openid-configuration`, { ca })).body.toString(),
  ) as { jwks_uri: string };
  const setup = await setupWith(issuer);
  try {
    expect(setup.jwksUrl).toBe(discovery.jwks_uri);
  } finally {
    setup.close();
  }
});

test('a document naming another issuer is refused (no mix-up), naming the variable', async () => {
  // The same provider reached through "localhost": its metadata names 127.0.0.1, not this issuer.
  const other = issuer.replace('127.0.0.1', 'localhost');
  await expect(setupWith(other)).rejects.toMatchObject({
    message: expect.stringMatching(/AGENTMESH_OAUTH_ISSUER.*names the issuer https:\/\/127\.0\.0\.1/),
  });
});

test('an issuer with neither document: one error naming what was tried', async () => {
  await expect(setupWith(`${issuer}/nothing-here`)).rejects.toMatchObject({
    message: expect.stringMatching(/AGENTMESH_OAUTH_ISSUER.*publishes no metadata.*openid-configuration: HTTP 404/),
  });
});

test('where metadata is looked for: RFC 8414 with the path after the well-known segment, then appended, then OIDC', () => {
  expect(metadataUrls('https://idp.example/realms/bank')).toEqual([
    'https://idp.example/.well-known/oauth-authorization-server/realms/bank',
    'https://idp.example/realms/bank/.well-known/oauth-authorization-server',
    'https://idp.example/realms/bank/.well-known/openid-configuration',
  ]);
  expect(metadataUrls('https://auth.mesh.local:8443/')).toEqual([
    'https://auth.mesh.local:8443/.well-known/oauth-authorization-server',
    'https://auth.mesh.local:8443/.well-known/openid-configuration',
  ]);
});
