import type { AgentCard, ToolCard } from '../../gen/agentmesh/v1/card.js';
import type { CollaboratorChoice } from '../../gen/agentmesh/v1/explain.js';
import type { MeshClient } from '../client/index.js';
import { endpointsOf, type DiscoveryClient } from '../discovery/index.js';
import { Code, MeshError } from '../core/index.js';
import type { ServiceDefinition } from '../core/index.js';

/** Why and where a collaborator is called: the CollaboratorChoice of ExplainTask without its step id. */
export type Choice = Omit<CollaboratorChoice, 'stepId'>;

/**
 * A client for a named collaborator ("namespace/name") and how it was chosen; `chosen` when the
 * caller located it already (one lookup, not two).
 */
export type Connect<S extends ServiceDefinition> = (
  name: string,
  chosen?: Choice,
) => Promise<{ client: MeshClient<S>; choice: Choice }>;

/** Where collaborators are found: static routes first, else the registry. */
export interface CollaboratorRoutes {
  /** "namespace/name" → "host:port" (AGENTMESH_COLLABORATOR_ADDRESSES). */
  static: Map<string, string>;
  /** The discovery client, when a registry is configured. */
  discovery: () => DiscoveryClient | undefined;
}

const nameOf = (m: {
  entry?: {
    card?:
      | { $case: 'agent'; agent: { name: string; version: string } }
      | { $case: 'tool'; tool: { name: string; version: string } };
  };
}) => {
  const card = m.entry?.card;
  return card?.$case === 'agent' ? card.agent : card?.$case === 'tool' ? card.tool : undefined;
};

/** Finds the instance to call for a name and records why: the static route, or the registry's best match with its reasons and the runners-up. */
export async function chooseCollaborator(routes: CollaboratorRoutes, name: string): Promise<Choice> {
  return (await locateCollaborator(routes, name)).choice;
}

/**
 * chooseCollaborator, with the registry's card of the chosen agent or tool
 * service (none for a static route): how it is called depends on it (an
 * external A2A agent, an external MCP server).
 */
export async function locateCollaborator(
  routes: CollaboratorRoutes,
  name: string,
): Promise<{ choice: Choice; card?: AgentCard; toolCard?: ToolCard }> {
  const fixed = routes.static.get(name);
  if (fixed) {
    const choice: Choice = {
      name,
      version: '',
      address: fixed,
      reasons: ['static route (AGENTMESH_COLLABORATOR_ADDRESSES)'],
      score: 0,
      alternatives: [],
    };
    return { choice };
  }
  const discovery = routes.discovery();
  if (!discovery)
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `no route to ${name}: set AGENTMESH_REGISTRY_ADDRESS or AGENTMESH_COLLABORATOR_ADDRESSES`,
    );
  const scope = { visibility: { names: [name], namespaces: [], patterns: [] }, characteristics: undefined };
  const { match, address } = await discovery.pick(scope);
  const ranked = await discovery.resolve(scope, 5);
  const label = (m: typeof match) => `${nameOf(m)?.name ?? '?'}@${nameOf(m)?.version ?? '?'}`;
  const alternatives = ranked
    .filter((m) => label(m) !== label(match) && endpointsOf(m).length > 0)
    .map((m) => `${label(m)} (score ${m.score.toFixed(2)})`);
  const card = match.entry?.card;
  return {
    choice: {
      name,
      version: nameOf(match)?.version ?? '',
      address,
      reasons: match.reasons,
      score: match.score,
      alternatives,
    },
    card: card?.$case === 'agent' ? card.agent : undefined,
    toolCard: card?.$case === 'tool' ? card.tool : undefined,
  };
}

/**
 * Typed clients to collaborators, one per name and address, chosen through
 * chooseCollaborator and closed with the pool.
 */
export class ClientPool<S extends ServiceDefinition> {
  private readonly clients = new Map<string, MeshClient<S>>();

  constructor(
    private readonly routes: CollaboratorRoutes,
    private readonly create: (name: string, address: string) => MeshClient<S>,
  ) {}

  readonly connect: Connect<S> = async (name, chosen) => {
    const choice = chosen ?? (await chooseCollaborator(this.routes, name));
    const key = `${name}@${choice.address}`;
    let client = this.clients.get(key);
    if (!client) {
      client = this.create(name, choice.address);
      this.clients.set(key, client);
    }
    return { client, choice };
  };

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
