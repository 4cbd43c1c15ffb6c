import { decodeJwt } from 'jose';
import { httpRequest } from '../mesh/security/https-client.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const CLIENTS = [
  {
    client_id: 'demo/agent',
    auth: { method: 'client_secret_basic', secret_path: 'agentmesh/clients/demo/agent' },
    scopes: ['task.read'],
    audiences: ['demo/peer'],
  },
];

describe('services/auth in istio transport mode (behind a sidecar that terminates mTLS)', () => {
  let files: LocalMeshFiles;
  let auth: ServiceProcess;
  let issuer: string;

  beforeAll(async () => {
    files = await createLocalMeshFiles(CLIENTS);
    files.secrets['agentmesh/clients/demo/agent'] = { client_secret: 'agent-secret-value-123' };
    files.writeSecrets();
    // No certificate files at all: plain HTTP to the local sidecar.
    auth = startProcess('services/auth/main.ts', {
      AGENTMESH_TRANSPORT: 'istio',
      AGENTMESH_SECRETS: 'file',
      AGENTMESH_SECRETS_FILE: files.secretsFile,
      AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile,
    });
    issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
  });

  afterAll(async () => {
    auth.child.kill('SIGTERM');
    expect(await auth.exited).toBe(0);
    files.cleanup();
  });

  test('serves metadata, JWKS and tokens over plain HTTP, with an http:// issuer', async () => {
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const meta = JSON.parse(
      (await httpRequest(`${issuer}/.well-known/oauth-authorization-server`)).body.toString(),
    ) as Record<string, string>;
    expect(meta.jwks_uri).toBe(`${issuer}/oauth2/jwks`);
    const tokens = new TokenClient({
      tokenUrl: meta.token_endpoint!,
      clientId: 'demo/agent',
      auth: { method: 'client_secret_basic', secret: 'agent-secret-value-123' },
    });
    const claims = decodeJwt(await tokens.getToken('demo/peer', ['task.read']));
    expect(claims).toMatchObject({ iss: issuer, aud: 'demo/peer', sub: 'demo/agent' });
  });

  test('mtls mode still refuses to start without its certificate', async () => {
    const proc = startProcess('services/auth/main.ts', {
      AGENTMESH_SECRETS: 'file',
      AGENTMESH_SECRETS_FILE: files.secretsFile,
      AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile,
    });
    expect(await proc.exited).toBe(78);
    expect(proc.stderr() + proc.stdout()).toMatch(/AGENTMESH_TLS_CERT is required in mtls transport mode/);
  });
});
