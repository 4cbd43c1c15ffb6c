import { decodeJwt } from 'jose';
import {
  ClientDirectory,
  parseClients,
  startAuthServer,
  type RunningAuthServer,
} from '../services/auth/server/index.js';
import { CertificateFiles } from '../mesh/security/cert-files.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { Code } from '../mesh/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { createSecureFixture, type SecureFixture } from './helpers/secure-mesh.js';

describe('token client', () => {
  let fx: SecureFixture;
  let shortLived: RunningAuthServer;
  let tls: CertificateFiles;

  beforeAll(async () => {
    fx = await createSecureFixture();
    tls = new CertificateFiles(await fx.pki.issue('agentmesh', 'auth', { name: 'auth-short' }), 1_000);
    // Same clients and keys, 2-second tokens: refresh becomes observable.
    shortLived = await startAuthServer({
      host: '127.0.0.1',
      port: 0,
      tls,
      clients: fx.clients,
      keys: fx.keys,
      secrets: fx.secrets,
      tokenTtlSec: 2,
      log: captureLogger().log,
    });
  });

  afterAll(async () => {
    await shortLived.close();
    tls.close();
    await fx.close();
  });

  const client = (tokenUrl: string) =>
    new TokenClient({
      tokenUrl,
      clientId: 'test/caller',
      auth: { method: 'client_secret_basic', secret: 'caller-secret-0123456789' },
      ca: fx.pki.ca.certPem,
    });

  test('caches per audience and scope, and concurrent callers share one request', async () => {
    const tokens = client(fx.auth.tokenUrl);
    const [a, b] = await Promise.all([
      tokens.getToken('test/agent', ['task.read']),
      tokens.getToken('test/agent', ['task.read']),
    ]);
    expect(a).toBe(b);
    expect(await tokens.getToken('test/agent', ['task.read'])).toBe(a);
    const other = await tokens.getToken('test/agent2', ['task.read']);
    expect(decodeJwt(other).aud).toBe('test/agent2');
  });

  test('refreshes before expiry', async () => {
    const tokens = client(shortLived.tokenUrl);
    const first = await tokens.getToken('test/agent');
    await new Promise((r) => setTimeout(r, 1_100));
    const asked = Date.now();
    const second = await tokens.getToken('test/agent');
    expect(second).not.toBe(first);
    // A newer token, still valid when asked for (not when checked: a loaded machine may pause between).
    expect(decodeJwt(second).exp!).toBeGreaterThan(decodeJwt(first).exp!);
    expect(decodeJwt(second).exp! * 1000).toBeGreaterThan(asked);
  });

  test('asking for a scope the client does not have is refused with invalid_scope', async () => {
    await expect(client(fx.auth.tokenUrl).getToken('test/agent', ['admin'])).rejects.toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: expect.stringContaining('invalid_scope'),
    });
  });

  test('an audience the client may not call is refused with invalid_target', async () => {
    await expect(client(fx.auth.tokenUrl).getToken('payments/ledger')).rejects.toMatchObject({
      message: expect.stringContaining('invalid_target'),
    });
  });

  test("a caller the collaborator's policy does not name is pointed at that policy", async () => {
    // As the local mesh registers workloads: audiences from the policies, each with its policy file.
    const registration = (client_id: string, extra: Record<string, unknown>) => ({
      client_id,
      auth: { method: 'client_secret_basic', secret_path: 'clients/test-caller' },
      scopes: ['task.read'],
      ...extra,
    });
    const tls = new CertificateFiles(await fx.pki.issue('agentmesh', 'auth', { name: 'auth-policies' }), 1_000);
    const auth = await startAuthServer({
      host: '127.0.0.1',
      port: 0,
      tls,
      clients: new ClientDirectory(
        parseClients([
          registration('lending/orchestrator', { audiences: ['banking/records'] }),
          registration('lending/compliance', { audiences: [], policy_file: 'services/agents/compliance/policy.json' }),
          registration('banking/records', { audiences: [] }),
        ]),
      ),
      keys: fx.keys,
      secrets: fx.secrets,
      log: captureLogger().log,
    });
    try {
      const orchestrator = new TokenClient({
        tokenUrl: auth.tokenUrl,
        clientId: 'lending/orchestrator',
        auth: { method: 'client_secret_basic', secret: 'caller-secret-0123456789' },
        ca: fx.pki.ca.certPem,
      });
      await expect(orchestrator.getToken('lending/compliance')).rejects.toMatchObject({
        code: Code.UNAUTHENTICATED,
        message:
          'token request refused: invalid_target (client lending/orchestrator may not obtain tokens for lending/compliance: ' +
          'services/agents/compliance/policy.json does not list it among the callers of lending/compliance; ' +
          'add "spiffe://{trust_domain}/ns/lending/sa/orchestrator" to a rule\'s callers there, restart the mesh (npm start) ' +
          'and re-render (npm run render:istio))',
      });
      // A registration without a policy file (an IdP's client list, say): the refusal still says what is missing.
      await expect(orchestrator.getToken('payments/ledger')).rejects.toMatchObject({
        message: expect.stringContaining(
          'client lending/orchestrator may not obtain tokens for payments/ledger (not among its registered audiences)',
        ),
      });
      expect(await orchestrator.getToken('banking/records')).toEqual(expect.any(String));
    } finally {
      await auth.close();
      tls.close();
    }
  });

  test('an unreachable token endpoint is UNAVAILABLE', async () => {
    await expect(client('https://127.0.0.1:9/oauth2/token').getToken('test/agent')).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
    });
  });
});
