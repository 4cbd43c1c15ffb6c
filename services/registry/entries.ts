import { AgentCard, Lifecycle, ToolCard, type Endpoint, type RegistryEntry } from '../../gen/agentmesh/v1/card.js';
import { externalEndpointOf, isExternalCardJson, type Candidate } from '../../mesh/index.js';
import type { LeaseRecord, RegistryEntryRecord } from './storage/registry-records.js';

/** An entry held in memory: its stored record and its live leases. */
export interface LiveEntry {
  record: RegistryEntryRecord;
  leases: Map<string, LeaseRecord>;
}

/** The key of an entry: kind, name and version. */
export const entryKey = (kind: 'agent' | 'tool', name: string, version: string) => `${kind}:${name}@${version}`;

/** Lifecycle names as stored. */
export const LIFECYCLE_NAMES: Record<number, string> = {
  [Lifecycle.LIFECYCLE_ACTIVE]: 'ACTIVE',
  [Lifecycle.LIFECYCLE_SUSPENDED]: 'SUSPENDED',
  [Lifecycle.LIFECYCLE_RETIRED]: 'RETIRED',
};
const LIFECYCLE_VALUES: Record<string, Lifecycle> = {
  ACTIVE: Lifecycle.LIFECYCLE_ACTIVE,
  SUSPENDED: Lifecycle.LIFECYCLE_SUSPENDED,
  RETIRED: Lifecycle.LIFECYCLE_RETIRED,
};

/** The label that restricts an entry to callers of its own namespace. */
export const VISIBILITY_LABEL = 'agentmesh.io/visibility';

/** Whether a caller (by SPIFFE namespace) may see an entry with these labels. */
export function visibleTo(
  name: string,
  labels: Record<string, string> | undefined,
  callerNamespace: string | undefined,
): boolean {
  return labels?.[VISIBILITY_LABEL] !== 'namespace' || name.startsWith(`${callerNamespace}/`);
}

/** The labels stored in an entry's card. */
export function labelsOf(e: LiveEntry): Record<string, string> | undefined {
  return (e.record.card as { labels?: Record<string, string> }).labels;
}

/**
 * True for an external entry (an A2A agent or an MCP server): registered by an administrator,
 * without identity or leases. Kept to entries without identity: a workload's card never counts.
 */
export function isExternal(e: LiveEntry): boolean {
  return e.record.identity === '' && isExternalCardJson(e.record.card);
}

/**
 * True when an entry may be discovered: ACTIVE with at least one live instance. An external
 * agent or MCP server has no instances of its own: its one permanent endpoint stands for them until retired.
 */
export function discoverable(e: LiveEntry): boolean {
  return e.record.lifecycle === 'ACTIVE' && (e.leases.size > 0 || isExternal(e));
}

/** The entry as the wire shows it: the card with its lifecycle and live endpoints. */
export function toRegistryEntry(e: LiveEntry): RegistryEntry {
  const external = isExternal(e) ? externalEndpointOf(e.record.card) : undefined;
  const endpoints: Endpoint[] = external
    ? [external]
    : [...e.leases.values()].map((l) => ({ mcpUrl: '', ...(l.endpoint as unknown as Partial<Endpoint>) }) as Endpoint);
  const lifecycle = LIFECYCLE_VALUES[e.record.lifecycle] ?? Lifecycle.LIFECYCLE_UNSPECIFIED;
  const card =
    e.record.kind === 'agent'
      ? { $case: 'agent' as const, agent: { ...AgentCard.fromJSON(e.record.card), endpoints, lifecycle } }
      : { $case: 'tool' as const, tool: { ...ToolCard.fromJSON(e.record.card), endpoints, lifecycle } };
  return { card, revision: e.record.revision, registeredAt: e.record.registeredAt, updatedAt: e.record.updatedAt };
}

/** What discovery matches an entry on. */
export function toCandidate(e: LiveEntry): Candidate {
  const agent = e.record.kind === 'agent' ? AgentCard.fromJSON(e.record.card) : undefined;
  const tool = agent ? undefined : ToolCard.fromJSON(e.record.card);
  const card = agent ?? tool!;
  // A tool service's tools play the part of an agent's skills.
  const skills = agent
    ? agent.skills.map((s) => ({ id: s.id, name: s.name, description: s.description, tags: s.tags }))
    : tool!.tools.map((t) => ({ id: t.name, name: t.name, description: t.description, tags: t.tags }));
  return {
    kind: e.record.kind,
    name: card.name,
    version: card.version,
    purpose: card.purpose,
    description: card.description,
    policies: card.policies.map((p) => p.id),
    skills,
    labels: card.labels,
  };
}
