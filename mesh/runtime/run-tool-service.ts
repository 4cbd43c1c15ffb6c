import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { spiffeIdOfService } from '../security/index.js';
import {
  compileServiceOptions,
  configOrExit,
  runMeshService,
  type CompiledServiceOptions,
  type ServiceOptions,
} from '../service/index.js';
import { openStore, type StateConfig, type Store } from '../state/index.js';
import { defaultToolPolicy } from './default-policy.js';
import { compileMcpOptions, startMcpServer, type McpOptions, type McpSettings } from './mcp/index.js';
import { compileStoreOption } from './store-option.js';
import { toolCardOf, toolService, type ToolServiceInfo, type ToolSpec } from './tool-service.js';

/** How long open MCP requests get to finish writing their answers once the server has drained its calls. */
const MCP_CLOSE_GRACE_MS = 2_000;

/** A tool service's configuration in code; each option overrides the environment variable named in its comment. */
export interface ToolServiceOptions extends ServiceOptions {
  /**
   * The store of idempotent results: an opened Store (closed at shutdown), or
   * state settings overriding their variables (DATABASE_URL, AGENTMESH_DATA_DIR...).
   */
  store?: Store | Partial<StateConfig>;
  /**
   * Serve the tools over MCP too (docs/mcp.md): true or settings enable it, false
   * disables it; unset, AGENTMESH_MCP_PORT decides (AGENTMESH_MCP_HOST,
   * AGENTMESH_MCP_ORIGIN, AGENTMESH_MCP_CLIENT_CERT, AGENTMESH_MCP_TIMEOUT_MS for the rest).
   */
  mcp?: boolean | McpOptions;
}

/** ToolServiceOptions merged with the environment and validated, once, at startup. */
export interface CompiledToolServiceOptions {
  service: CompiledServiceOptions;
  /** An opened store to use, or the settings to open one with. */
  store: { opened: Store } | { config: StateConfig };
  /** The MCP endpoint's settings; undefined: no MCP. */
  mcp: McpSettings | undefined;
}

/**
 * Compiles a tool service's options once, at startup: validated, overriding
 * their environment variables, the caller policy falling back to the built-in
 * tool service default.
 */
export function compileToolServiceOptions(
  name: string,
  options: ToolServiceOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledToolServiceOptions {
  const service = compileServiceOptions(name, options, env, defaultToolPolicy);
  return {
    service,
    store: compileStoreOption(options.store, service.env),
    mcp: compileMcpOptions(options.mcp, service.env),
  };
}

/**
 * Runs a tool service process: the kit (security, telemetry, admin port),
 * its own store for idempotent results, ToolService for `tools`, the same
 * tools over MCP when configured, and registration with the registry when
 * one is configured. `options` are
 * compiled first; an invalid one stops the process with a message naming it.
 */
export async function runToolService(
  info: ToolServiceInfo,
  tools: ToolSpec[],
  options: ToolServiceOptions = {},
): Promise<void> {
  const compiled = configOrExit(info.name, () => compileToolServiceOptions(info.name, options));
  await runMeshService(
    info.name,
    async (kit) => {
      const store =
        'opened' in compiled.store
          ? compiled.store.opened
          : await openStore({
              service: kit.name,
              log: kit.log,
              config: compiled.store.config,
              onFailure: (failure) => kit.broken(failure.message),
            });
      kit.onShutdown(() => store.close());
      const card = toolCardOf(info, tools, spiffeIdOfService(kit.security.config.AGENTMESH_TRUST_DOMAIN, info.name));
      const server = kit
        .createServer()
        .add(
          ToolServiceService,
          toolService(card, tools, { store, metrics: kit.metrics, audit: kit.audit, service: kit.name }),
        );
      await kit.serve(server, { readyNow: false });
      // After the gRPC server listens: dispatch() runs calls only on a serving server.
      const mcp = compiled.mcp && (await startMcpServer(kit, server, card, compiled.mcp));
      if (mcp) {
        // Runs once the server has drained (dispatched MCP calls included), so what is left is writing answers
        // out: a short grace, not the whole period again, or shutdown would outlast the pod's termination grace.
        kit.onShutdown(() => mcp.close(Math.min(MCP_CLOSE_GRACE_MS, kit.config.AGENTMESH_SHUTDOWN_GRACE_MS)));
        kit.log.info({ address: mcp.address, url: mcp.url, metadata: mcp.metadataUrl }, 'mcp endpoint served');
      }
      kit.register({ kind: 'tool', card }, { mcpUrl: mcp ? mcp.url : undefined });
    },
    compiled.service,
  );
}
