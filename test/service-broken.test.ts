// A service whose store failed closed (a failed WAL sync: every later call is refused until a
// restart) says so to its orchestrator: ServiceKit.broken() turns gRPC health NOT_SERVING and
// /readyz and /livez 503, so that Kubernetes stops routing to the pod and restarts it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { kernelConfigSchema, loadConfig } from '../mesh/config/index.js';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { compileServiceOptions, ServiceKit } from '../mesh/service/index.js';
import { healthStatus } from './helpers/grpc-std-clients.js';
import { captureLogger } from './helpers/log-capture.js';

const SERVICE = 'demo/broken';

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.text();
  return res.status;
}

describe('ServiceKit.broken', () => {
  let dir: string;
  let kit: ServiceKit;
  let capture: ReturnType<typeof captureLogger>;
  let started: { address: string; adminAddress: string };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-broken-'));
    const secretsFile = join(dir, 'secrets.json');
    writeFileSync(
      secretsFile,
      JSON.stringify({ [`agentmesh/clients/${SERVICE}`]: { client_secret: 'x'.repeat(24) } }),
      {
        mode: 0o600,
      },
    );
    // Plaintext transport (health is answered outside the security chain); the issuer is never called.
    const env = {
      AGENTMESH_TRANSPORT: 'insecure',
      AGENTMESH_OAUTH_ISSUER: 'https://issuer.invalid',
      AGENTMESH_OAUTH_JWKS_URL: 'https://issuer.invalid/jwks',
      AGENTMESH_OAUTH_TOKEN_URL: 'https://issuer.invalid/token',
      AGENTMESH_DATA_DIR: join(dir, 'data'),
      AGENTMESH_HOST: '127.0.0.1',
      AGENTMESH_PORT: '0',
    };
    const compiled = compileServiceOptions(SERVICE, { policy: { service: SERVICE, rules: [] } }, env);
    capture = captureLogger(SERVICE);
    const secrets = new FileSecretsProvider(secretsFile);
    await secrets.start();
    kit = await ServiceKit.fromEnv(SERVICE, loadConfig(kernelConfigSchema, env), capture.log, secrets, compiled);
    const server = kit.createServer().add(AgentServiceService, {});
    started = await kit.serve(server);
  });

  afterEach(async () => {
    await kit.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('health NOT_SERVING, /readyz and /livez 503, for good; said once', async () => {
    const admin = `http://${started.adminAddress}`;
    expect(await healthStatus(started.address)).toBe('SERVING');
    expect(await status(`${admin}/livez`)).toBe(200);
    expect(await status(`${admin}/readyz`)).toBe(200);

    kit.broken('state store: the write-ahead log could not be made durable (EIO); restart the service');
    kit.broken('a second reason');
    // Startup work finishing late (a registration...) does not make it ready again.
    kit.ready();

    expect(await healthStatus(started.address)).toBe('NOT_SERVING');
    expect(await healthStatus(started.address, 'agentmesh.v1.AgentService')).toBe('NOT_SERVING');
    expect(await status(`${admin}/livez`)).toBe(503);
    expect(await status(`${admin}/readyz`)).toBe(503);
    const said = capture.lines.filter((l) => String(l.msg).startsWith('service broken'));
    expect(said).toEqual([expect.objectContaining({ reason: expect.stringContaining('(EIO)') })]);
  });
});
