import {
  Lifecycle,
  type AgentCard,
  type Skill,
  type ToolCard,
  type ToolDefinition,
} from '../../gen/agentmesh/v1/card.js';
import type { AgentTarget, ToolTarget } from '../../gen/agentmesh/v1/plan.js';

/** A collaborator a planner may put in a plan: one tool of a tool service, or one skill of an agent. */
export type InventoryItem =
  | { kind: 'tool'; /** The tool service, "namespace/name". */ service: string; tool: ToolDefinition }
  | { kind: 'agent'; /** The agent, "namespace/name". */ agent: string; skill: Skill };

// Suspended and retired entries must not be planned with even when a cached or
// hand-written card still lists them; UNSPECIFIED counts as active (local cards).
const usable = (lifecycle: Lifecycle) =>
  lifecycle !== Lifecycle.LIFECYCLE_SUSPENDED && lifecycle !== Lifecycle.LIFECYCLE_RETIRED;

/**
 * Flattens cards (as discovery returns them, best first) into inventory items.
 * A name seen twice keeps its first card, so the best-ranked version wins.
 */
export function inventoryFromCards(agents: AgentCard[], tools: ToolCard[]): InventoryItem[] {
  const items: InventoryItem[] = [];
  const seen = new Set<string>();
  for (const card of tools) {
    if (!usable(card.lifecycle) || seen.has(`tool ${card.name}`)) continue;
    seen.add(`tool ${card.name}`);
    for (const tool of card.tools) items.push({ kind: 'tool', service: card.name, tool });
  }
  for (const card of agents) {
    if (!usable(card.lifecycle) || seen.has(`agent ${card.name}`)) continue;
    seen.add(`agent ${card.name}`);
    for (const skill of card.skills) items.push({ kind: 'agent', agent: card.name, skill });
  }
  return items;
}

/** How an item is named in prompts and error messages, e.g. `tool "get-customer" of "banking/customers"`. */
export function itemName(item: InventoryItem): string {
  return item.kind === 'tool'
    ? `tool "${item.tool.name}" of "${item.service}"`
    : `skill "${item.skill.id}" of agent "${item.agent}"`;
}

/** A plan step's tool or agent target. */
export type CollaboratorTarget = { $case: 'tool'; tool: ToolTarget } | { $case: 'agent'; agent: AgentTarget };

/** The arguments schema a target accepts, or why the inventory does not offer it (with what its service does offer). */
export function resolveCollaborator(
  inventory: InventoryItem[],
  target: CollaboratorTarget,
): { schema: Record<string, unknown> | undefined } | { error: string } {
  if (target.$case === 'agent') {
    const { agent, skillId } = target.agent;
    const found = inventory.find((i) => i.kind === 'agent' && i.agent === agent && i.skill.id === skillId);
    return found?.kind === 'agent'
      ? { schema: found.skill.inputSchema }
      : { error: `skill "${skillId}" of agent "${agent}" is not in the inventory` };
  }
  const { service, tool } = target.tool;
  const offered = inventory.flatMap((i) => (i.kind === 'tool' && i.service === service ? [i.tool] : []));
  const found = offered.find((t) => t.name === tool);
  if (found) return { schema: found.argumentsSchema };
  const hint = offered.length > 0 ? ` (that service offers: ${offered.map((t) => t.name).join(', ')})` : '';
  return { error: `tool "${tool}" of "${service}" is not in the inventory${hint}` };
}
