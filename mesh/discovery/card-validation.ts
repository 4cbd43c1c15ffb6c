import { createHash } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import semver from 'semver';
import type { AgentCard, Skill, ToolCard, ToolDefinition } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../core/index.js';
import { parseSpiffeId } from '../security/index.js';
import { checkExternalBinding } from './external-card.js';
import { checkExternalMcpServer } from './external-mcp.js';

/** "namespace/name": lower-case DNS labels, so a name is also a valid Kubernetes name pair. */
export const ENTRY_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ID = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;
// An external MCP server's tool names are its own (tools/call must send them as they are): the
// MCP specification's character set and length rather than the mesh's lower-case ids.
const MCP_TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

// One compiler for checking that schemas parse; strict mode off so that
// common annotations (examples, x-*) in real schemas are accepted.
const ajv = new Ajv2020({ strict: false, allErrors: false });

const invalid = (field: string, problem: string) => new MeshError(Code.INVALID_ARGUMENT, `${field}: ${problem}`);

// Schemas already known to compile, by the SHA-256 of their JSON text (a digest, so that large
// schemas do not stay in memory), the oldest out first: agents re-register the same cards (every
// restart, every replica), and compiling is about half of a registration's CPU.
const MAX_KNOWN_SCHEMAS = 1_024;
const knownGood = new Set<string>();

/** Checks that a JSON Schema (as a Struct) compiles; empty means "anything". */
export function checkSchema(schema: Record<string, unknown> | undefined, field: string): void {
  if (!schema || Object.keys(schema).length === 0) return;
  const text = createHash('sha256').update(JSON.stringify(schema)).digest('base64');
  if (knownGood.has(text)) return;
  try {
    ajv.compile(schema);
  } catch (err) {
    throw invalid(field, `not a valid JSON Schema (${(err as Error).message})`);
  } finally {
    // Compiled only to check it: do not keep it (a schema with $id would collide on the next registration).
    ajv.removeSchema(schema);
  }
  if (knownGood.size >= MAX_KNOWN_SCHEMAS) knownGood.delete(knownGood.values().next().value!);
  knownGood.add(text);
}

function checkCommon(
  card: { name: string; version: string; purpose: string; identity: string; owner: string },
  kind: string,
  external = false,
): void {
  if (!card.name) throw invalid('card.name', 'required');
  if (!ENTRY_NAME.test(card.name))
    throw invalid('card.name', `must be namespace/name in lower case (got ${JSON.stringify(card.name.slice(0, 80))})`);
  if (!card.version) throw invalid('card.version', 'required');
  if (!semver.valid(card.version))
    throw invalid('card.version', `not a semantic version (got ${JSON.stringify(card.version.slice(0, 40))})`);
  if (!card.purpose.trim()) throw invalid('card.purpose', `required: one sentence saying what the ${kind} is for`);
  if (external) {
    if (card.identity) throw invalid('card.identity', `must be empty: an external ${kind} has no workload identity`);
  } else checkIdentity(card);
  if (!card.owner.trim()) throw invalid('card.owner', 'required: the accountable team or person');
}

function checkIdentity(card: { name: string; identity: string }): void {
  if (!card.identity) throw invalid('card.identity', 'required: the workload SPIFFE ID');
  const id = parseSpiffeId(card.identity);
  if (!id)
    throw invalid('card.identity', 'not a SPIFFE ID of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service>');
  if (`${id.namespace}/${id.serviceAccount}` !== card.name)
    throw invalid('card.identity', `names ${id.namespace}/${id.serviceAccount}, not ${card.name}`);
}

function checkUnique<T>(items: T[], key: (t: T) => string, field: string, pattern: RegExp): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const k = key(item);
    if (!pattern.test(k))
      throw invalid(
        `${field}[${i}]`,
        pattern === MCP_TOOL_NAME
          ? `name ${JSON.stringify(k.slice(0, 64))} must be 1-128 letters, digits, . _ -`
          : `id ${JSON.stringify(k.slice(0, 64))} must be lower-case letters, digits, . _ -`,
      );
    if (seen.has(k)) throw invalid(`${field}[${i}]`, `duplicate id ${k}`);
    seen.add(k);
  });
}

/**
 * Validates an agent card for registration; INVALID_ARGUMENT names the first bad field.
 * A mesh workload's card names its workload identity and may not claim to be external;
 * an external A2A agent's (`external`) has no identity and carries a usable A2A card.
 */
export function validateAgentCard(card: AgentCard | undefined, { external = false } = {}): AgentCard {
  if (!card) throw invalid('card', 'required');
  checkCommon(card, 'agent', external);
  if (external) checkExternalBinding(card.a2a);
  else if (card.a2a?.external)
    throw invalid('card.a2a.external', 'a mesh workload cannot register as an external agent');
  if (card.skills.length === 0) throw invalid('card.skills', 'an agent needs at least one skill');
  checkUnique(card.skills, (s: Skill) => s.id, 'card.skills', ID);
  card.skills.forEach((s, i) => {
    if (!s.description.trim()) throw invalid(`card.skills[${i}].description`, 'required');
    checkSchema(s.inputSchema, `card.skills[${i}].input_schema`);
    checkSchema(s.outputSchema, `card.skills[${i}].output_schema`);
  });
  checkUnique(card.policies, (p) => p.id, 'card.policies', /^[a-z0-9]([a-z0-9./_-]{0,126}[a-z0-9])?$/);
  return card;
}

const isObjectSchema = (schema: Record<string, unknown> | undefined) => schema?.type === 'object';

/**
 * Validates a tool service card for registration. A mesh workload's card names its workload
 * identity and has no `mcp`; an external MCP server's (`external`) has no identity, a usable
 * `mcp` binding and object schemas for every tool's arguments (MCP requires them).
 */
export function validateToolCard(card: ToolCard | undefined, { external = false } = {}): ToolCard {
  if (!card) throw invalid('card', 'required');
  checkCommon(card, external ? 'MCP server' : 'tool service', external);
  if (external) checkExternalMcpServer(card.mcp);
  else if (card.mcp) throw invalid('card.mcp', 'a mesh tool service cannot register as an external MCP server');
  if (card.tools.length === 0) throw invalid('card.tools', 'a tool service needs at least one tool');
  checkUnique(card.tools, (t: ToolDefinition) => t.name, 'card.tools', external ? MCP_TOOL_NAME : ID);
  card.tools.forEach((t, i) => {
    if (!t.description.trim()) throw invalid(`card.tools[${i}].description`, 'required');
    if (external && !isObjectSchema(t.argumentsSchema))
      throw invalid(`card.tools[${i}].arguments_schema`, 'must be a JSON Schema with "type": "object"');
    checkSchema(t.argumentsSchema, `card.tools[${i}].arguments_schema`);
    if (external && t.resultSchema && Object.keys(t.resultSchema).length && !isObjectSchema(t.resultSchema))
      throw invalid(`card.tools[${i}].result_schema`, 'must be a JSON Schema with "type": "object"');
    checkSchema(t.resultSchema, `card.tools[${i}].result_schema`);
  });
  return card;
}
