import { EntryKind, Lifecycle } from '../../gen/agentmesh/v1/card.js';
import { DiscoveryMatch, RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { list, out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';

/** `agentmesh agents`: discovery with the registry's scoping rules. */
export async function agents(args: string[]): Promise<number> {
  const { values } = parse('agents', args, {
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
  });
  if (values.kind && values.kind !== 'agent' && values.kind !== 'tool')
    throw new CliError('--kind is agent or tool', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.read']);
    const patterns = [
      ...list(values.glob).map((glob) => ({ pattern: { $case: 'glob' as const, glob } })),
      ...list(values.regex).map((regex) => ({ pattern: { $case: 'regex' as const, regex } })),
    ];
    const { matches } = await registry.discover({
      scope: {
        visibility: { namespaces: list(values.namespace), names: list(values.name), patterns },
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
      out(`    matched: ${m.reasons.join('; ')}`);
    }
    return 0;
  } finally {
    conn.close();
  }
}
