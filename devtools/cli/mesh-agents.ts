// The agents the registry lists, and a client to each: the inbox asks every agent of the mesh,
// including agents that joined it from elsewhere (not in mesh.json: reached at their card's endpoints).
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { Code, isMeshError, type MeshClient } from '../../mesh/index.js';
import { CliError } from './cli-error.js';
import type { MeshConnection } from './connection.js';

/** A client to an agent, calling as the CLI's user. */
export type AgentClient = MeshClient<typeof AgentServiceService>;

/** How long one agent may take to answer the inbox: one slow agent must not hold up the list. */
export const AGENT_CALL_MS = 15_000;

/** Every active agent the registry lists (all pages). */
export async function listAgents(conn: MeshConnection): Promise<AgentCard[]> {
  const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.read']);
  const cards: AgentCard[] = [];
  let pageToken = '';
  do {
    const page = await registry.listAgents({ namespace: '', pageSize: 1000, pageToken, includeInactive: false });
    cards.push(...page.agents);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return cards;
}

/** A client to the agent of this card: at mesh.json's addresses when the mesh runs it, else at the card's endpoints. */
export function clientOf(conn: MeshConnection, card: AgentCard): AgentClient {
  if (conn.file.services.some((s) => s.name === card.name && s.kind === 'agent'))
    return conn.client(AgentServiceService, card.name, 'user');
  const addresses = card.endpoints.map((e) => e.address).filter(Boolean);
  if (!addresses.length) throw new CliError(`${card.name}: the registry lists no endpoint for it`);
  return conn.clientAt(AgentServiceService, card.name, addresses, 'user');
}

/** A client to the agent named: from mesh.json, else from the registry's card; a one-line error when neither knows it. */
export async function agentClient(conn: MeshConnection, name: string): Promise<AgentClient> {
  const local = conn.file.services.find((s) => s.name === name);
  if (local) return conn.client(AgentServiceService, conn.service(name, 'agent').name, 'user');
  const registry = conn.client(RegistryServiceService, conn.registryName(), 'cli', ['registry.read']);
  try {
    const { card } = await registry.getAgent({ name, version: '' });
    return clientOf(conn, card!);
  } catch (err) {
    if (isMeshError(err) && err.code === Code.NOT_FOUND)
      throw new CliError(`${name} is not an agent of this mesh (see agentmesh agents)`);
    throw err;
  }
}
