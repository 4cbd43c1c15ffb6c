// `agentmesh register mcp <url>`: an administrator registers an external MCP server. The CLI lists
// the server's tools with the official SDK client (trusting --ca, else the system roots, as agents
// will), builds the card from them and the administrator's choices, and registers it.
import semver from 'semver';
import { McpAuthMode, type ExternalMcpServer } from '../../gen/agentmesh/v1/card.js';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import {
  checkExternalMcpServer,
  Code,
  ENTRY_NAME,
  isMeshError,
  mcpToolHints,
  toolCardFromMcpTools,
} from '../../mesh/index.js';
import { list, out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { firstSentence } from './external-a2a-card.js';
import { listingHeaders, listTools } from './mcp-listing.js';
import { labelsOf, readCa } from './register-choices.js';

const AUTH_MODES: Record<string, McpAuthMode> = {
  'client-credentials': McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
  'token-exchange': McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE,
  secret: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET,
};
// The registry's field names, as the flags that set them.
const FLAGS: [RegExp, string][] = [
  [/^card\.mcp\.auth\.secret\b/, '--secret'],
  [/^card\.mcp\.auth\.token_url\b/, '--token-url'],
  [/^card\.mcp\.auth\.client_id\b/, '--client-id'],
  [/^card\.mcp\.auth\.resource\b/, '--resource'],
  [/^card\.mcp\.auth\.scopes(\[\d+\])?/, '--scope'],
  [/^card\.mcp\.auth\.mode\b/, '--auth'],
  [/^card\.mcp\.ca_pem\b/, '--ca'],
  [/^card\.mcp\.url\b/, 'the MCP server URL'],
];

/** The server's MCP settings from the flags, checked as the registry will check them (no network yet). */
function serverOf(url: string, values: Record<string, unknown>, caPem: string): ExternalMcpServer {
  const auth = values.auth as string | undefined;
  if (!auth || !(auth in AUTH_MODES))
    throw new CliError('--auth is required: client-credentials, token-exchange or secret', 2);
  const server: ExternalMcpServer = {
    url,
    external: true,
    caPem,
    protocolVersion: '',
    auth: {
      mode: AUTH_MODES[auth]!,
      tokenUrl: (values['token-url'] as string | undefined) ?? '',
      clientId: (values['client-id'] as string | undefined) ?? '',
      secret: (values.secret as string | undefined) ?? '',
      resource: (values.resource as string | undefined) ?? '',
      scopes: list(values.scope),
    },
  };
  try {
    checkExternalMcpServer(server);
  } catch (err) {
    if (!isMeshError(err)) throw err;
    const line = err.message.split('\n')[0]!;
    const flag = FLAGS.find(([re]) => re.test(line));
    throw new CliError((flag ? line.replace(flag[0], flag[1]) : line).replace('in auth.secret', 'in --secret'), 2);
  }
  return server;
}

/** `agentmesh register mcp <url>`: see the usage text. */
export async function registerMcp(args: string[]): Promise<number> {
  const { values, positionals } = parse('register', args, {
    name: { type: 'string' },
    owner: { type: 'string' },
    version: { type: 'string' },
    purpose: { type: 'string' },
    auth: { type: 'string' },
    secret: { type: 'string' },
    'client-id': { type: 'string' },
    'token-url': { type: 'string' },
    resource: { type: 'string' },
    scope: { type: 'string', multiple: true },
    idempotent: { type: 'string', multiple: true },
    label: { type: 'string', multiple: true },
    'visible-to': { type: 'string' },
    ca: { type: 'string' },
    'bearer-env': { type: 'string' },
    json: { type: 'boolean' },
  });
  const [, url, ...extra] = positionals;
  if (!url || extra.length)
    throw new CliError('usage: agentmesh register mcp <url> --name NS/NAME --owner OWNER --auth MODE (see --help)', 2);
  const name = values.name as string | undefined;
  const owner = values.owner as string | undefined;
  if (!name) throw new CliError('--name NS/NAME is required: the name the mesh knows the server by', 2);
  if (!ENTRY_NAME.test(name)) throw new CliError(`--name ${name}: must be namespace/name in lower case`, 2);
  if (!owner?.trim()) throw new CliError('--owner is required: the accountable team or person', 2);
  if (values.version !== undefined && !semver.valid(values.version as string))
    throw new CliError(`--version ${values.version as string}: not a semantic version`, 2);
  const labels = labelsOf(values.label);
  const visibleTo = ((values['visible-to'] as string | undefined) ?? '').split(',').filter(Boolean);
  const server = serverOf(url, values, readCa(values.ca as string | undefined));
  const bearerEnv = values['bearer-env'] as string | undefined;
  listingHeaders(bearerEnv);

  const listed = await listTools(url, server.caPem, bearerEnv);
  const version =
    (values.version as string | undefined) ??
    semver.valid(listed.server.version) ??
    semver.coerce(listed.server.version)?.version;
  if (!version)
    throw new CliError(
      `the MCP server's version ${JSON.stringify(listed.server.version)} is not a version: pass --version`,
      2,
    );
  const idempotent = list(values.idempotent);
  let card;
  try {
    card = toolCardFromMcpTools(
      listed.tools,
      {
        name,
        owner,
        version,
        purpose:
          (values.purpose as string | undefined) ??
          (firstSentence(listed.server.description ?? '') ||
            `The tools of the MCP server ${listed.server.title ?? listed.server.name ?? new URL(url).host}.`),
        description: listed.server.description ?? '',
        labels,
        visibleTo,
        idempotent,
      },
      { ...server, protocolVersion: listed.protocolVersion },
    );
  } catch (err) {
    if (!isMeshError(err)) throw err;
    const line = err.message.split('\n')[0]!;
    throw new CliError(line.replace(/^idempotent:/, '--idempotent:').replace(/^visible_to:/, '--visible-to:'), 2);
  }

  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.admin']);
    let revision: number;
    try {
      ({ revision } = await registry.registerExternalTool({ card }));
    } catch (err) {
      if (isMeshError(err))
        throw new CliError(`the registry refused ${name}: ${err.message.split('\n')[0]} (${Code[err.code]})`);
      throw err;
    }
    const tools = card.tools.map((t) => t.name);
    if (values.json)
      out(JSON.stringify({ name, version, url, tools, protocolVersion: listed.protocolVersion, revision }));
    else {
      out(
        `registered ${name}@${version}: external MCP server at ${url}, ${tools.length} tool(s): ${tools.join(', ')} (registry revision ${revision})`,
      );
      const claimed = listed.tools.filter(
        (t) => mcpToolHints(t).includes('idempotent') && !idempotent.includes(t.name),
      );
      if (claimed.length)
        out(
          `  the server calls ${claimed.map((t) => t.name).join(', ')} idempotent (a hint, not trusted): --idempotent NAME vouches for one`,
        );
    }
    return 0;
  } finally {
    conn.close();
  }
}
