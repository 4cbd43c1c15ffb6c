import { EntryKind, Lifecycle, type AgentCard, type ToolCard } from '../../gen/agentmesh/v1/card.js';
import { DiscoveryMatch, RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { list, out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { Code, isMeshError, type MeshClient } from '../../mesh/index.js';

/** Where an agent's A2A card is: its URL, "external" for an agent outside the mesh, or only in the registry. */
function a2aWhere(agent: AgentCard): string {
  const a2a = agent.a2a;
  if (!a2a?.card) return 'none';
  const where = a2a.cardUrl || `agentmesh agents ${agent.name} --a2a`;
  return a2a.external ? `external (${where})` : where;
}

/** Where a tool service answers MCP: an external server's URL, or its instances' MCP endpoints ('' if none). */
export function mcpWhere(tool: ToolCard): string {
  if (tool.mcp?.external) return `external ${tool.mcp.url}`;
  return tool.endpoints
    .map((e) => e.mcpUrl)
    .filter(Boolean)
    .join(', ');
}

/** `agents NS/NAME --a2a`: the agent's A2A card as the registry keeps it, as JSON on stdout. */
async function printA2aCard(registry: MeshClient<typeof RegistryServiceService>, name: string): Promise<number> {
  let card: AgentCard | undefined;
  try {
    ({ card } = await registry.getAgent({ name, version: '' }));
  } catch (err) {
    if (isMeshError(err) && (err.code === Code.NOT_FOUND || err.code === Code.INVALID_ARGUMENT))
      throw new CliError(`${name} is not an agent of this mesh (see agentmesh agents)`);
    throw err;
  }
  if (!card?.a2a?.card) throw new CliError(`${name} has no A2A card in the registry`);
  out(JSON.stringify(card.a2a.card, null, 2));
  return 0;
}

/** `agentmesh agents`: discovery with the registry's scoping rules. */
export async function agents(args: string[]): Promise<number> {
  const { values, positionals } = parse('agents', args, {
    namespace: { type: 'string', multiple: true },
    name: { type: 'string', multiple: true },
    glob: { type: 'string', multiple: true },
    regex: { type: 'string', multiple: true },
    skill: { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true },
    policy: { type: 'string', multiple: true },
    text: { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
    a2a: { type: 'boolean' },
  });
  if (positionals.length > 1) throw new CliError('agents takes at most one name (see agentmesh agents --help)', 2);
  const names = [...positionals, ...list(values.name)];
  if (values.a2a && names.length !== 1) throw new CliError('--a2a: name one agent (agentmesh agents NS/NAME --a2a)', 2);
  if (values.kind && values.kind !== 'agent' && values.kind !== 'tool')
    throw new CliError('--kind is agent or tool', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.read']);
    if (values.a2a) return await printA2aCard(registry, names[0]!);
    const patterns = [
      ...list(values.glob).map((glob) => ({ pattern: { $case: 'glob' as const, glob } })),
      ...list(values.regex).map((regex) => ({ pattern: { $case: 'regex' as const, regex } })),
    ];
    const { matches } = await registry.discover({
      scope: {
        visibility: { namespaces: list(values.namespace), names, patterns },
        characteristics: {
          text: (values.text as string | undefined) ?? '',
          skillIds: list(values.skill),
          tags: list(values.tag),
          policies: list(values.policy),
          labels: {},
          versionConstraint: '',
          kinds: values.kind ? [values.kind === 'agent' ? EntryKind.ENTRY_KIND_AGENT : EntryKind.ENTRY_KIND_TOOL] : [],
        },
      },
      maxResults: 100,
    });
    if (values.json) {
      out(JSON.stringify(matches.map((m) => DiscoveryMatch.toJSON(m))));
      return 0;
    }
    if (!matches.length) {
      out('no agent or tool matches');
      return 0;
    }
    for (const m of matches) {
      const card = m.entry!.card!;
      const c = card.$case === 'agent' ? card.agent : card.tool;
      const skills = card.$case === 'agent' ? card.agent.skills.map((s) => s.id) : card.tool.tools.map((t) => t.name);
      out(
        `${c.name}@${c.version}  ${card.$case}  ${Lifecycle[c.lifecycle].replace('LIFECYCLE_', '')}  ${c.endpoints.length} instance(s)  owner ${c.owner}`,
      );
      out(`    ${c.purpose}`);
      out(
        `    ${card.$case === 'agent' ? 'skills' : 'tools'}: ${skills.join(', ')}${c.policies.length ? `   policies: ${c.policies.map((p) => p.id).join(', ')}` : ''}`,
      );
      if (card.$case === 'agent') out(`    a2a card: ${a2aWhere(card.agent)}`);
      else if (mcpWhere(card.tool)) out(`    mcp: ${mcpWhere(card.tool)}`);
      out(`    matched: ${m.reasons.join('; ')}`);
    }
    return 0;
  } finally {
    conn.close();
  }
}
