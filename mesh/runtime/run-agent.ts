import { z } from 'zod';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { AgentCard, type ToolCard } from '../../gen/agentmesh/v1/card.js';
import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import type { MeshClient } from '../client/client.js';
import { loadConfig } from '../config/config.js';
import { endpointsOf } from '../discovery/discovery-client.js';
import { spiffeIdOfService } from '../security/spiffe-id.js';
import { Code, MeshError } from '../server/errors.js';
import type { ServiceKit } from '../service/service-kit.js';
import { runMeshService } from '../service/run-mesh-service.js';
import { openStore } from '../state/store.js';
import { AgentRuntime } from './agent-runtime.js';
import { agentService } from './agent-service.js';
import { inventoryFromCards } from './inventory.js';
import type { Planner } from './planner.js';
import { ToolStepRunner } from './tool-step-runner.js';

const agentConfigSchema = z.object({
  /** Static routes for small deployments: "ns/name=host:port,..."; otherwise collaborators are discovered. */
  AGENTMESH_COLLABORATOR_ADDRESSES: z
    .string()
    .regex(/^([a-z0-9-]+\/[a-z0-9-]+=[^,=\s]+)(,[a-z0-9-]+\/[a-z0-9-]+=[^,=\s]+)*$/, 'must be ns/name=host:port,...')
    .optional(),
});

/** Finds a tool service's address: a static route, else the registry's best instance. */
function toolClients(kit: ServiceKit, routes: Map<string, string>) {
  const clients = new Map<string, MeshClient<typeof ToolServiceService>>();
  kit.onShutdown(() => clients.forEach((c) => c.close()));
  return async (service: string) => {
    let address = routes.get(service);
    if (!address) {
      const discovery = kit.discovery();
      if (!discovery) throw new MeshError(Code.FAILED_PRECONDITION, `no route to ${service}: set AGENTMESH_REGISTRY_ADDRESS or AGENTMESH_COLLABORATOR_ADDRESSES`);
      address = (await discovery.pick({ visibility: { names: [service], namespaces: [], patterns: [] }, characteristics: undefined })).address;
    }
    let client = clients.get(`${service}@${address}`);
    if (!client) {
      client = kit.client(ToolServiceService, { service, address, scopes: ['tools.invoke'] });
      clients.set(`${service}@${address}`, client);
    }
    return client;
  };
}

/**
 * Runs an agent process: the kit (security, telemetry, admin port), its own
 * store, AgentService over the runtime with tool steps routed statically or
 * through discovery, registration, and resumption of unfinished tasks.
 */
export async function runAgent(card: Omit<AgentCard, 'identity' | 'endpoints' | 'lifecycle'>, planner: Planner): Promise<void> {
  await runMeshService(card.name, async (kit) => {
    const routes = new Map((loadConfig(agentConfigSchema).AGENTMESH_COLLABORATOR_ADDRESSES ?? '').split(',').filter(Boolean).map((r) => r.split('=') as [string, string]));
    const store = await openStore({ service: kit.name, log: kit.log });
    kit.onShutdown(() => store.close());
    const full = AgentCard.fromPartial({ ...card, identity: spiffeIdOfService(kit.security.config.AGENTMESH_TRUST_DOMAIN, card.name) });
    const clientFor = toolClients(kit, routes);
    const inventory = async () => {
      const tools: ToolCard[] = [];
      for (const service of routes.keys()) tools.push((await (await clientFor(service)).listTools({})).card!);
      const discovery = kit.discovery();
      if (discovery && full.collaborators) {
        for (const m of await discovery.resolve(full.collaborators, 100)) {
          if (m.entry?.card?.$case === 'tool' && endpointsOf(m).length && !routes.has(m.entry.card.tool.name)) tools.push(m.entry.card.tool);
        }
      }
      return inventoryFromCards([], tools);
    };
    const runtime = new AgentRuntime({ card: full, planner, store, runner: new ToolStepRunner(card.name, clientFor), inventory, log: kit.log });
    await kit.serve(kit.createServer().add(AgentServiceService, agentService(full, runtime, store)), { readyNow: false });
    kit.register({ kind: 'agent', card: full });
    await runtime.resume();
  });
}
