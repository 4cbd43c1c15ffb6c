import type { Tool } from '@modelcontextprotocol/client';
import { ToolCard, type ExternalMcpServer, type ToolDefinition } from '../../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../../core/index.js';

// An external MCP server's card: the tools as the server lists them (their names, descriptions
// and schemas are what planners and agents work with), and what the administrator decides (the
// name, owner, visibility, which tools are idempotent). MCP tool annotations are hints the
// server makes about itself: the mesh neither trusts them (an "idempotent" tool would be retried
// after an ambiguous failure) nor shows them to planners as facts, so they stay out of the card;
// `agentmesh register mcp` shows them to the administrator instead.

/** The label that restricts an entry to callers of its own namespace (the registry's visibility model). */
const VISIBILITY_LABEL = 'agentmesh.io/visibility';

/** What the administrator decides about an external MCP server's entry. */
export interface McpEntryChoice {
  /** "namespace/name" the mesh knows the server by. */
  name: string;
  owner: string;
  version: string;
  /** One sentence saying what the server is for. */
  purpose: string;
  description?: string;
  labels?: Record<string, string>;
  /** Namespaces that may see the entry: unset for all, else only the entry's own. */
  visibleTo?: string[];
  /** The tools the administrator vouches are idempotent (safe to retry): names the server lists. */
  idempotent: string[];
}

const invalid = (field: string, problem: string) => new MeshError(Code.INVALID_ARGUMENT, `${field}: ${problem}`);
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The server's annotations of a tool, as hints for the administrator (never stored as facts). */
export function mcpToolHints(tool: Tool): string[] {
  const a = tool.annotations ?? {};
  return [
    a.readOnlyHint === true && 'read-only',
    a.idempotentHint === true && 'idempotent',
    a.destructiveHint === true && 'destructive',
    a.openWorldHint === true && 'open-world',
  ].filter((h): h is string => typeof h === 'string');
}

/** One MCP tool as a ToolDefinition: inputSchema → arguments_schema, outputSchema → result_schema. */
export function toolDefinitionOf(tool: Tool, idempotent: boolean): ToolDefinition {
  return {
    name: tool.name,
    // Planners choose by the description; a server that gives none gets its title or a plain statement.
    description: tool.description?.trim() || tool.title?.trim() || `the MCP tool ${tool.name}`,
    argumentsSchema: isObject(tool.inputSchema) ? tool.inputSchema : undefined,
    resultSchema: isObject(tool.outputSchema) ? tool.outputSchema : undefined,
    tags: [],
    idempotent,
    examples: [],
  };
}

/**
 * The card of an external MCP server from its listed tools and the administrator's choices.
 * INVALID_ARGUMENT when an idempotent tool is not listed or the visibility is not expressible;
 * the registry checks the rest (schemas, names) when the card is registered.
 */
export function toolCardFromMcpTools(tools: Tool[], choice: McpEntryChoice, server: ExternalMcpServer): ToolCard {
  const listed = new Set(tools.map((t) => t.name));
  const unknown = choice.idempotent.filter((n) => !listed.has(n));
  if (unknown.length)
    throw invalid(
      'idempotent',
      `the server lists no tool ${unknown.join(', ')} (it lists: ${[...listed].join(', ') || 'none'})`,
    );
  const labels = { ...(choice.labels ?? {}) };
  if (choice.visibleTo?.length) {
    // The registry can narrow an entry to its own namespace (or leave it visible to all), nothing finer.
    const own = choice.name.split('/')[0]!;
    if (choice.visibleTo.some((ns) => ns !== own))
      throw invalid('visible_to', `an entry is visible to every namespace or only to its own (${own})`);
    labels[VISIBILITY_LABEL] = 'namespace';
  }
  const idempotent = new Set(choice.idempotent);
  return ToolCard.fromPartial({
    name: choice.name,
    version: choice.version,
    purpose: choice.purpose,
    description: choice.description ?? '',
    owner: choice.owner,
    labels,
    tools: tools.map((t) => toolDefinitionOf(t, idempotent.has(t.name))),
    mcp: { ...server, external: true },
  });
}
