// The registry: the book of record for agents and tool services, and
// discovery of the single right collaborator.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { DEFAULT_MAX_EXAMINED, loadConfig, millis } from '../../mesh/index.js';
import { runMeshService } from '../../mesh/index.js';
import { openStore } from '../../mesh/index.js';
import { Registry } from './registry.js';
import { registryService } from './registry-service.js';

const leaseConfigSchema = z.object({
  AGENTMESH_REGISTRY_LEASE_DEFAULT_MS: millis().default(30_000),
  AGENTMESH_REGISTRY_LEASE_MIN_MS: millis().default(2_000),
  AGENTMESH_REGISTRY_LEASE_MAX_MS: millis().default(300_000),
  AGENTMESH_REGISTRY_SWEEP_MS: millis().default(1_000),
  AGENTMESH_REGISTRY_ALLOW_LOOPBACK_MCP: z.enum(['true', 'false']).default('false'),
  AGENTMESH_REGISTRY_DISCOVER_MAX_EXAMINED: z.coerce.number().int().min(100).default(DEFAULT_MAX_EXAMINED),
});

await runMeshService(
  'agentmesh/registry',
  async (kit) => {
    const c = loadConfig(leaseConfigSchema);
    const store = await openStore({
      service: kit.name,
      log: kit.log,
      onFailure: (failure) => kit.broken(failure.message),
    });
    const registry = new Registry(
      store,
      kit.log,
      {
        defaultTtlMs: c.AGENTMESH_REGISTRY_LEASE_DEFAULT_MS,
        minTtlMs: c.AGENTMESH_REGISTRY_LEASE_MIN_MS,
        maxTtlMs: c.AGENTMESH_REGISTRY_LEASE_MAX_MS,
      },
      { maxExamined: c.AGENTMESH_REGISTRY_DISCOVER_MAX_EXAMINED },
    );
    await registry.start(c.AGENTMESH_REGISTRY_SWEEP_MS);
    kit.onShutdown(async () => {
      registry.stop();
      await store.close();
    });
    const allowLoopbackMcp = c.AGENTMESH_REGISTRY_ALLOW_LOOPBACK_MCP === 'true';
    await kit.serve(kit.createServer().add(RegistryServiceService, registryService(registry, { allowLoopbackMcp })));
  },
  { policy: fileURLToPath(new URL('./policy.json', import.meta.url)) },
);
