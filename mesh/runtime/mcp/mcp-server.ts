import type { ToolCard } from '../../../gen/agentmesh/v1/card.js';
import type { MeshServer } from '../../server/index.js';
import { TokenVerifier, TrustedIssuers, type TokenCheck } from '../../security/index.js';
import type { ServiceKit } from '../../service/index.js';
import { originOf } from '../a2a/card-server.js';
import { scopesFor } from '../a2a/a2a-settings.js';
import { MCP_PATH, protectedResourceMetadata, resourceMetadataUrl } from './mcp-challenge.js';
import { listenHttpPort } from './mcp-http-server.js';
import { INVOKE_TOOL_PATH, LIST_TOOLS_PATH } from './mcp-methods.js';
import type { McpSettings } from './mcp-settings.js';

/** A tool service's running MCP endpoint. */
export interface RunningMcpServer {
  /** The endpoint, `<origin>/mcp`: the resource identifier, and Endpoint.mcp_url in the registry. */
  url: string;
  /** The RFC 9728 metadata document's URL. */
  metadataUrl: string;
  /** host:port bound. */
  address: string;
  /** Stops taking requests, lets those in progress answer, cuts the rest after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** The issuers a token may come from, as the RFC 9728 document lists them. */
function issuersOf(verifier: TokenCheck, fallback: string): string[] {
  if (verifier instanceof TrustedIssuers) return verifier.issuers;
  if (verifier instanceof TokenVerifier) return [verifier.issuer];
  return [fallback];
}

let endpointLoaded: Promise<typeof import('./mcp-endpoint.js')> | undefined;
/**
 * The endpoint and the MCP SDK server under it, loaded once, when a tool service turns MCP on:
 * others never serve it, and the SDK costs a process several MB (npm run bench -- startup).
 */
function endpointModule(): NonNullable<typeof endpointLoaded> {
  endpointLoaded ??= import('./mcp-endpoint.js');
  return endpointLoaded;
}

/**
 * Serves the tools of `server` (which must have ToolService added and be
 * listening) over MCP Streamable HTTP on a port of its own, with the kit's
 * transport, verifier and policy: see docs/mcp.md.
 */
export async function startMcpServer(
  kit: ServiceKit,
  server: MeshServer,
  card: ToolCard,
  settings: McpSettings,
): Promise<RunningMcpServer> {
  const { transport, verifier, policy, config } = kit.security;
  const invokeScopes = scopesFor(policy, INVOKE_TOOL_PATH.slice(1));
  const scopes = [...scopesFor(policy, LIST_TOOLS_PATH.slice(1)), ...invokeScopes];
  // Set once listening: the origin may be the bound port's.
  let origin = settings.origin ?? '';
  let boundOrigin = '';
  const { mcpEndpoint } = await endpointModule();
  const endpoint = mcpEndpoint({
    server,
    name: card.name,
    version: card.version,
    transport,
    timeoutMs: settings.timeoutMs,
    optionalIdentity: settings.clientCert === 'optional',
    gate: { verifier, policy },
    metadata: () => ({
      document: protectedResourceMetadata({
        origin,
        issuers: issuersOf(verifier, config.AGENTMESH_OAUTH_ISSUER),
        scopes,
        name: `${card.name} (agentmesh tool service)`,
      }),
      url: resourceMetadataUrl(origin),
      challengeScopes: [...new Set(invokeScopes.length ? invokeScopes : scopes)],
    }),
    allowedOrigins: () => [origin, boundOrigin],
    log: kit.log,
  });
  const port = await listenHttpPort(
    {
      host: settings.host ?? kit.config.AGENTMESH_HOST,
      port: settings.port,
      transport,
      clientCert: settings.clientCert,
      log: kit.log,
    },
    endpoint,
  );
  boundOrigin = originOf({ ...port, host: settings.originHost ?? port.host });
  origin ||= boundOrigin;
  return {
    url: `${origin}${MCP_PATH}`,
    metadataUrl: resourceMetadataUrl(origin),
    address: `${port.host}:${port.port}`,
    close: (graceMs) => port.close(graceMs),
  };
}
