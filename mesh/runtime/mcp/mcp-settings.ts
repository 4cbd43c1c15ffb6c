import { z } from 'zod';
import { ConfigError, loadConfig, millis, port } from '../../config/index.js';
import { parseOptions } from '../../service/index.js';

/** Whether MCP callers must present a client certificate of the mesh CA (mtls mode only). */
export type McpClientCertMode = 'required' | 'optional';

/** The MCP server of a tool service, in code; each field overrides the variable named in its comment. */
export interface McpOptions {
  /** Port of the MCP endpoint; 0: any free port (AGENTMESH_MCP_PORT; unset: no MCP server). */
  port?: number;
  /** Interface to bind (AGENTMESH_MCP_HOST, default AGENTMESH_HOST). */
  host?: string;
  /** Public origin http(s)://host[:port] when a gateway fronts the port (AGENTMESH_MCP_ORIGIN). */
  origin?: string;
  /** required (default) or optional client certificates in mtls mode (AGENTMESH_MCP_CLIENT_CERT). */
  clientCert?: McpClientCertMode;
  /** The deadline of each MCP call, in ms (AGENTMESH_MCP_TIMEOUT_MS, default 30 000): MCP carries none of its own. */
  timeoutMs?: number;
}

/** The MCP server settings, validated once at startup. */
export interface McpSettings {
  port: number;
  /** Undefined: the gRPC server's interface. */
  host?: string;
  /** Undefined: the bound scheme, host and port. */
  origin?: string;
  /** When bound to a wildcard address without an origin: the host of AGENTMESH_ADVERTISE_ADDRESS, with the bound scheme and port. */
  originHost?: string;
  clientCert: McpClientCertMode;
  /** The deadline given to each dispatched call. */
  timeoutMs: number;
}

/** An origin: scheme, host and port, nothing after (what the resource identifier starts with). */
const ORIGIN = /^https?:\/\/[^/?#\s]+$/;
const ORIGIN_MESSAGE = 'must be an origin, http(s)://host[:port] with no path';
const CLIENT_CERT_MESSAGE = 'must be required or optional';

const mcpEnvSchema = z.object({
  /** Port of the MCP endpoint (/mcp); unset: the tool service serves no MCP. */
  AGENTMESH_MCP_PORT: port().optional(),
  /** Interface the MCP server binds (default: AGENTMESH_HOST). */
  AGENTMESH_MCP_HOST: z.string().min(1).optional(),
  /** The public origin of the MCP endpoint (default: the bound host and port). */
  AGENTMESH_MCP_ORIGIN: z.string().regex(ORIGIN, ORIGIN_MESSAGE).optional(),
  /** required: callers present a mesh client certificate; optional: certificate-less callers are let in without a workload identity. */
  AGENTMESH_MCP_CLIENT_CERT: z.enum(['required', 'optional'], { error: CLIENT_CERT_MESSAGE }).default('required'),
  /** The deadline of each MCP call (tools/list, tools/call) on this server: MCP requests carry none. */
  AGENTMESH_MCP_TIMEOUT_MS: millis().default(30_000),
});

const optionSchema = z.object({
  mcp: z
    .strictObject({
      port: port().optional(),
      host: z.string().min(1).optional(),
      origin: z.string().regex(ORIGIN, ORIGIN_MESSAGE).optional(),
      clientCert: z.enum(['required', 'optional'], { error: CLIENT_CERT_MESSAGE }).optional(),
      timeoutMs: z.number().int().positive().optional(),
    })
    .optional(),
});

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * The host of the resource identifier when no origin is set: the bound one,
 * unless it is a wildcard address, which no caller can reach (nor would the
 * RFC 9728 resource match what a client asked for): then the host of
 * AGENTMESH_ADVERTISE_ADDRESS, else a ConfigError naming AGENTMESH_MCP_ORIGIN.
 */
function originHostOf(bound: string, env: NodeJS.ProcessEnv): { originHost?: string } {
  if (!WILDCARDS.has(bound)) return {};
  const advertised = env.AGENTMESH_ADVERTISE_ADDRESS?.replace(/:\d+$/, '');
  if (advertised) return { originHost: advertised.replace(/^\[(.*)\]$/, '$1') };
  throw new ConfigError(
    'AGENTMESH_MCP_ORIGIN',
    `must be set when the MCP endpoint binds the wildcard address ${bound || '(all interfaces)'} (or set AGENTMESH_ADVERTISE_ADDRESS): the resource identifier needs a host callers reach`,
  );
}

/**
 * The MCP server settings from the option `mcp` over the AGENTMESH_MCP_*
 * variables: undefined when MCP is off (`mcp: false`, or neither the option
 * nor AGENTMESH_MCP_PORT asks for it). An invalid value throws a ConfigError
 * naming the variable or option.
 */
export function compileMcpOptions(
  option: McpOptions | boolean | undefined,
  env: NodeJS.ProcessEnv,
): McpSettings | undefined {
  // A boolean switches MCP on or off; an object is checked field by field, so an error names the field.
  const o = typeof option === 'boolean' ? {} : (parseOptions(optionSchema, { mcp: option }).mcp ?? {});
  const e = loadConfig(mcpEnvSchema, env);
  if (option === false) return undefined;
  const wanted = option !== undefined || e.AGENTMESH_MCP_PORT !== undefined;
  if (!wanted) return undefined;
  const host = o.host ?? e.AGENTMESH_MCP_HOST;
  const origin = o.origin ?? e.AGENTMESH_MCP_ORIGIN;
  return {
    port: o.port ?? e.AGENTMESH_MCP_PORT ?? 0,
    host,
    origin,
    ...(!origin && originHostOf(host ?? env.AGENTMESH_HOST ?? '127.0.0.1', env)),
    clientCert: o.clientCert ?? e.AGENTMESH_MCP_CLIENT_CERT,
    timeoutMs: o.timeoutMs ?? e.AGENTMESH_MCP_TIMEOUT_MS,
  };
}
