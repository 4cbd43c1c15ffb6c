import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { spiffeIdOfService } from '../security/index.js';
import { runMeshService } from '../service/index.js';
import { openStore } from '../state/index.js';
import { toolCardOf, toolService, type ToolServiceInfo, type ToolSpec } from './tool-service.js';

/**
 * Runs a tool service process: the kit (security, telemetry, admin port),
 * its own store for idempotent results, ToolService for `tools`, and
 * registration with the registry when one is configured.
 */
export async function runToolService(info: ToolServiceInfo, tools: ToolSpec[]): Promise<void> {
  await runMeshService(info.name, async (kit) => {
    const store = await openStore({ service: kit.name, log: kit.log });
    kit.onShutdown(() => store.close());
    const card = toolCardOf(info, tools, spiffeIdOfService(kit.security.config.AGENTMESH_TRUST_DOMAIN, info.name));
    const server = kit
      .createServer()
      .add(
        ToolServiceService,
        toolService(card, tools, { store, metrics: kit.metrics, audit: kit.audit, service: kit.name }),
      );
    await kit.serve(server, { readyNow: false });
    kit.register({ kind: 'tool', card });
  });
}
