import { Lifecycle, McpAuthMode, ToolCard } from '../../gen/agentmesh/v1/card.js';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { Code, isMeshError } from '../../mesh/index.js';
import { out, parse } from './args.js';
import { mcpWhere } from './agents-command.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { schemaLines } from './schema-view.js';

/** The auth modes as `agentmesh register mcp --auth` names them. */
const AUTH_NAMES: Partial<Record<McpAuthMode, string>> = {
  [McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS]: 'client-credentials',
  [McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE]: 'token-exchange',
  [McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET]: 'secret',
};

/**
 * `agentmesh tools <ns/name>`: a tool service's tools with the JSON Schemas of their arguments and
 * results, from the registry's card (the tool service itself admits only the agents its policy names).
 */
export async function tools(args: string[]): Promise<number> {
  const { values, positionals } = parse('tools', args, { tool: { type: 'string' }, json: { type: 'boolean' } });
  const [name] = positionals;
  if (!name)
    throw new CliError(
      'tools needs a tool service: agentmesh tools <ns/name> (agentmesh agents --kind tool lists them)',
      2,
    );
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    // A service of the local mesh of another kind gets a pointer to what to do with it instead.
    if (conn.file.services.some((s) => s.name === name)) conn.service(name, 'tool');
    const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.read']);
    const card = await registry.getToolService({ name, version: '' }).then(
      (r) => r.card!,
      async (err: unknown) => {
        if (!isMeshError(err) || err.code !== Code.NOT_FOUND) throw err;
        const { tools: services } = await registry.listToolServices({
          namespace: '',
          pageSize: 100,
          pageToken: '',
          includeInactive: false,
        });
        throw new CliError(
          `${name} is not a tool service of this mesh's registry (${services.map((s) => s.name).join(', ') || 'none'})`,
        );
      },
    );
    const picked = values.tool ? card.tools.filter((t) => t.name === values.tool) : card.tools;
    if (!picked.length)
      throw new CliError(`${name} has no tool ${String(values.tool)} (${card.tools.map((t) => t.name).join(', ')})`);
    if (values.json) {
      out(JSON.stringify(ToolCard.toJSON({ ...card, tools: picked })));
      return 0;
    }
    const external = card.mcp?.external === true;
    out(
      `${card.name}@${card.version}  ${external ? 'external MCP server' : 'tool service'}  ${Lifecycle[card.lifecycle].replace('LIFECYCLE_', '')}  owner ${card.owner}`,
    );
    out(`    ${card.purpose}`);
    if (external) {
      const auth = AUTH_NAMES[card.mcp!.auth?.mode ?? McpAuthMode.MCP_AUTH_MODE_UNSPECIFIED] ?? 'unspecified';
      out(
        `    mcp: ${card.mcp!.url}  auth: ${auth}${card.mcp!.protocolVersion ? `  protocol ${card.mcp!.protocolVersion}` : ''}`,
      );
    } else if (mcpWhere(card)) out(`    mcp: ${mcpWhere(card)}`);
    for (const t of picked) {
      out('');
      out(`${t.name}${t.idempotent ? '  (idempotent)' : ''}${t.tags.length ? `  tags: ${t.tags.join(', ')}` : ''}`);
      if (t.description) out(`    ${t.description}`);
      out('    arguments:');
      schemaLines(t.argumentsSchema, '      ').forEach(out);
      out('    result:');
      schemaLines(t.resultSchema, '      ').forEach(out);
      for (const e of t.examples) out(`    example: ${e.title}: ${JSON.stringify(e.input ?? {})}`);
    }
    out('');
    out(`agents call these from the steps of their plans (target: tool, service ${card.name}, tool <name>)`);
    return 0;
  } finally {
    conn.close();
  }
}
