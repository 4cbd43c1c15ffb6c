import { readFileSync } from 'node:fs';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { Code, isMeshError } from '../../mesh/index.js';
import { out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { cardUrlOf, externalCardOf, fetchCardJson } from './external-a2a-card.js';
import { labelsOf, readCa } from './register-choices.js';

/** The label that restricts an entry to callers of its own namespace (the registry's visibility model). */
const VISIBILITY_LABEL = 'agentmesh.io/visibility';

/** Options of either kind that take no value; every other --option takes one. */
const FLAGS_WITHOUT_VALUE = new Set(['--json', '--help', '-h']);

/** The first positional argument (the kind: a2a or mcp), before the kind's own options are known. */
function firstPositional(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) return a;
    if (!a.includes('=') && !FLAGS_WITHOUT_VALUE.has(a)) i++;
  }
  return undefined;
}

/**
 * `agentmesh register a2a <card-url>`: an administrator registers an external A2A agent from its card;
 * `agentmesh register mcp <url>`: an external MCP server (register-mcp-command.ts).
 */
export async function register(args: string[]): Promise<number> {
  if (firstPositional(args) === 'mcp') return (await import('./register-mcp-command.js')).registerMcp(args);
  const { values, positionals } = parse('register', args, {
    name: { type: 'string' },
    owner: { type: 'string' },
    label: { type: 'string', multiple: true },
    'visible-to': { type: 'string' },
    ca: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [what, given, ...extra] = positionals;
  if (what !== 'a2a' || !given || extra.length)
    throw new CliError(
      'usage: agentmesh register a2a <card-url> | mcp <url> --name NS/NAME --owner OWNER ... (see --help)',
      2,
    );
  const name = values.name as string | undefined;
  const owner = values.owner as string | undefined;
  if (!name) throw new CliError('--name NS/NAME is required: the name the mesh knows the agent by', 2);
  if (!owner?.trim()) throw new CliError('--owner is required: the accountable team or person', 2);
  const labels = labelsOf(values.label);
  const visibleTo = ((values['visible-to'] as string | undefined) ?? '').split(',').filter(Boolean);
  if (visibleTo.length) {
    // The registry can narrow an entry to its own namespace (or leave it visible to all), nothing finer.
    const own = name.split('/')[0]!;
    if (visibleTo.some((ns) => ns !== own))
      throw new CliError(`--visible-to: an entry is visible to every namespace or only to its own (${own})`, 2);
    labels[VISIBILITY_LABEL] = 'namespace';
  }
  const caPem = readCa(values.ca as string | undefined);
  const url = cardUrlOf(given);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const json = await fetchCardJson(url, [readFileSync(conn.file.ca, 'utf8'), ...(caPem ? [caPem] : [])]);
    const { card, grpcAddress } = externalCardOf(json, { name, owner, labels, cardUrl: url.href, caPem });
    const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.admin']);
    let revision: number;
    try {
      ({ revision } = await registry.registerExternalAgent({ card }));
    } catch (err) {
      if (isMeshError(err))
        throw new CliError(`the registry refused ${name}: ${err.message.split('\n')[0]} (${Code[err.code]})`);
      throw err;
    }
    if (values.json) out(JSON.stringify({ name, version: card.version, grpcAddress, revision }));
    else
      out(`registered ${name}@${card.version}: external A2A agent at ${grpcAddress} (registry revision ${revision})`);
    return 0;
  } finally {
    conn.close();
  }
}
