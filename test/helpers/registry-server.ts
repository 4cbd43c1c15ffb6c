import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCard, type Endpoint } from '../../gen/agentmesh/v1/card.js';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { createClient, type MeshClient } from '../../mesh/index.js';
import { loadPolicy } from '../../mesh/security/policy.js';
import { securityInterceptor } from '../../mesh/security/security-interceptor.js';
import { TokenVerifier } from '../../mesh/security/token-verifier.js';
import { createServer, type MeshServer } from '../../mesh/index.js';
import { loadStateConfig, openStore, type Store } from '../../mesh/index.js';
import { Registry } from '../../services/registry/registry.js';
import { registryService } from '../../services/registry/registry-service.js';
import { captureLogger } from './log-capture.js';
import { TRUST_DOMAIN } from './pki.js';
import { idOf, type SecureFixture } from './secure-mesh.js';

/** The registry service's own policy file. */
export const REGISTRY_POLICY = fileURLToPath(new URL('../../services/registry/policy.json', import.meta.url));

/** Clients registering with and reading from the registry in tests. */
export const REGISTRY_CLIENTS = [
  {
    client_id: 'lending/credit-risk',
    scopes: ['registry.register', 'registry.read'],
    audiences: ['agentmesh/registry'],
  },
  {
    client_id: 'lending/orchestrator',
    scopes: ['registry.register', 'registry.read'],
    audiences: ['agentmesh/registry'],
  },
  { client_id: 'payments/ledger', scopes: ['registry.register', 'registry.read'], audiences: ['agentmesh/registry'] },
  { client_id: 'agentmesh/admin', scopes: ['registry.read', 'registry.admin'], audiences: ['agentmesh/registry'] },
];

/** A registry served over mTLS with token checks and its real policy, on a SQLite store in a temp dir. */
export interface RegistryUnderTest {
  address: string;
  server: MeshServer;
  registry: Registry;
  store: Store;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startRegistry(
  fx: SecureFixture,
  dataDir = mkdtempSync(join(tmpdir(), 'registry-')),
  options: { port?: number; minTtlMs?: number; maxExamined?: number } = {},
): Promise<RegistryUnderTest> {
  const log = captureLogger('agentmesh/registry').log;
  const store = await openStore({
    service: 'agentmesh/registry',
    config: loadStateConfig({ AGENTMESH_DATA_DIR: dataDir }),
    log,
  });
  const registry = new Registry(
    store,
    log,
    {
      defaultTtlMs: 30_000,
      minTtlMs: options.minTtlMs ?? 500,
      maxTtlMs: 300_000,
    },
    { maxExamined: options.maxExamined },
  );
  await registry.start(100);
  const transport = await fx.transportFor('agentmesh', 'registry');
  const verifier = new TokenVerifier({
    issuer: fx.auth.issuer,
    audience: 'agentmesh/registry',
    jwksUrl: fx.auth.jwksUrl,
    ca: fx.pki.ca.certPem,
  });
  const server = createServer({ logger: log })
    .use(securityInterceptor({ transport, verifier, policy: loadPolicy(REGISTRY_POLICY, TRUST_DOMAIN), log }))
    .add(RegistryServiceService, registryService(registry));
  const port = await server.listen(`127.0.0.1:${options.port ?? 0}`, transport.serverCredentials());
  return {
    address: `127.0.0.1:${port}`,
    server,
    registry,
    store,
    dataDir,
    async stop() {
      await server.shutdown({ graceMs: 200 });
      registry.stop();
      await store.close();
    },
  };
}

/** A registry client acting as workload ns/sa with its own certificate and token. */
export async function registryClientAs(
  fx: SecureFixture,
  address: string,
  workload: string,
  scopes: string[],
): Promise<MeshClient<typeof RegistryServiceService>> {
  const [ns, sa] = workload.split('/') as [string, string];
  const transport = await fx.transportFor(ns, sa);
  const tokens = fx.tokenClient(workload);
  return createClient(RegistryServiceService, address, {
    credentials: transport.channelCredentials(idOf('agentmesh', 'registry')),
    defaultDeadlineMs: 5_000,
    metadataHooks: [tokens.metadataHook('agentmesh/registry', scopes)],
  });
}

/** A valid agent card for `name` owned by its own workload identity. */
export function agentCard(name: string, over: Partial<Parameters<typeof AgentCard.fromPartial>[0]> = {}): AgentCard {
  const [ns, sa] = name.split('/') as [string, string];
  return AgentCard.fromPartial({
    name,
    version: '1.0.0',
    purpose: `The ${sa} agent`,
    description: '',
    owner: 'team',
    identity: idOf(ns, sa),
    skills: [{ id: 'default', name: 'Default', description: 'does its job', tags: [] }],
    ...over,
  });
}

export const endpoint = (instance: string, port = 7000): Endpoint => ({
  address: `127.0.0.1:${port}`,
  adminAddress: '',
  instanceId: instance,
  mcpUrl: '',
});

export const cleanupDir = (dir: string) => rmSync(dir, { recursive: true, force: true });
