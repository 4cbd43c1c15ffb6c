import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Lifecycle } from '../gen/agentmesh/v1/card.js';
import { RegistryServiceService } from '../gen/agentmesh/v1/registry_service.js';
import { createClient } from '../mesh/index.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const client = (id: string, scopes: string[], audiences: string[]) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes,
  audiences,
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('a service registers itself on start and leaves discovery on stop', () => {
  let files: LocalMeshFiles;
  const procs: ServiceProcess[] = [];
  let issuer: string;
  let registryAddress: string;

  beforeAll(async () => {
    files = await createLocalMeshFiles([
      client('agentmesh/registry', [], []),
      client('demo/agent', ['registry.register', 'registry.read'], ['agentmesh/registry']),
      client('demo/reader', ['registry.read'], ['agentmesh/registry']),
      client('agentmesh/admin', ['registry.read', 'registry.admin'], ['agentmesh/registry']),
    ]);
    for (const id of ['agentmesh/registry', 'demo/agent', 'demo/reader', 'agentmesh/admin'])
      files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    registryAddress = `127.0.0.1:${await freePort()}`;
    const auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', {
        AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile,
        AGENTMESH_REGISTRY_ADDRESS: registryAddress,
      }),
    );
    procs.push(auth);
    issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    const registry = startProcess(
      'services/registry/main.ts',
      files.serviceEnv('agentmesh/registry', {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_PORT: registryAddress.split(':')[1]!,
        AGENTMESH_DATA_DIR: join(files.dir, 'registry'),
      }),
    );
    procs.push(registry);
    await waitForLog(registry, 'service started');
  });

  afterAll(() => {
    for (const p of procs) p.child.kill('SIGKILL');
    files.cleanup();
  });

  const as = (id: string, scopes: string[]) => {
    const { transport, tokens } = localCaller(files, id, issuer);
    const registry = createClient(RegistryServiceService, registryAddress, {
      credentials: transport.channelCredentials(spiffeIdOfService('agentmesh.local', 'agentmesh/registry')),
      metadataHooks: [tokens.metadataHook('agentmesh/registry', scopes)],
    });
    return { registry, tokens, close: () => (registry.close(), transport.close()) };
  };
  const byName = { visibility: { names: ['demo/agent'], namespaces: [], patterns: [] }, characteristics: undefined };

  test('register on start, suspension (no discovery, no tokens), deregistration on SIGTERM', async () => {
    const policy = join(files.dir, 'agent-policy.json');
    writeFileSync(policy, JSON.stringify({ service: 'demo/agent', rules: [] }));
    const agent = startProcess(
      'test/fixtures/hop-agent.ts',
      files.serviceEnv('demo/agent', {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: policy,
        AGENTMESH_REGISTRY_ADDRESS: registryAddress,
        AGENTMESH_DATA_DIR: join(files.dir, 'agent'),
        HOP_REGISTER: '1',
      }),
    );
    procs.push(agent);
    const started = await waitForLog(agent, 'service started');
    await waitForLog(agent, 'registered');
    const reader = as('demo/reader', ['registry.read']);
    const admin = as('agentmesh/admin', ['registry.read', 'registry.admin']);
    try {
      const found = await reader.registry.discover({ scope: byName as never, maxResults: 1 });
      const card = found.matches[0]?.entry?.card;
      expect(card?.$case === 'agent' && card.agent.endpoints.map((e) => e.address)).toEqual([started.address]);

      await admin.registry.setLifecycle({
        name: 'demo/agent',
        version: '',
        lifecycle: Lifecycle.LIFECYCLE_SUSPENDED,
        reason: 'test suspension',
      });
      expect((await reader.registry.discover({ scope: byName as never, maxResults: 1 })).matches).toEqual([]);
      await new Promise((r) => setTimeout(r, 2_200)); // the auth server reuses a verdict for 2 s
      const suspendedTokens = new TokenClient({ ...as('demo/agent', []).tokens.options });
      await expect(suspendedTokens.getToken('agentmesh/registry', ['registry.read'])).rejects.toMatchObject({
        message: expect.stringContaining('not active in the registry'),
      });

      await admin.registry.setLifecycle({
        name: 'demo/agent',
        version: '',
        lifecycle: Lifecycle.LIFECYCLE_ACTIVE,
        reason: 'back',
      });
      expect((await reader.registry.discover({ scope: byName as never, maxResults: 1 })).matches).toHaveLength(1);

      agent.child.kill('SIGTERM');
      await waitForLog(agent, 'deregistered');
      expect((await reader.registry.discover({ scope: byName as never, maxResults: 1 })).matches).toEqual([]);
      expect(await agent.exited).toBe(0);
    } finally {
      reader.close();
      admin.close();
    }
  });
  test('AGENTMESH_ADVERTISE_ADDRESS is registered instead of the bound address (the Kubernetes Service name behind Istio)', async () => {
    const policy = join(files.dir, 'agent-policy.json');
    writeFileSync(policy, JSON.stringify({ service: 'demo/agent', rules: [] }));
    const advertised = 'agent.demo.svc.cluster.local:50051';
    const agent = startProcess(
      'test/fixtures/hop-agent.ts',
      files.serviceEnv('demo/agent', {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: policy,
        AGENTMESH_REGISTRY_ADDRESS: registryAddress,
        AGENTMESH_DATA_DIR: join(files.dir, 'agent-advertised'),
        AGENTMESH_ADVERTISE_ADDRESS: advertised,
        HOP_REGISTER: '1',
      }),
    );
    procs.push(agent);
    await waitForLog(agent, 'registered');
    const reader = as('demo/reader', ['registry.read']);
    try {
      const card = (await reader.registry.discover({ scope: byName as never, maxResults: 1 })).matches[0]?.entry?.card;
      expect(card?.$case === 'agent' && card.agent.endpoints.map((e) => e.address)).toEqual([advertised]);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      reader.close();
    }
  });
});
