import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import type { ToolCard } from '../../../gen/agentmesh/v1/card.js';
import type { InvokeToolResponse } from '../../../gen/agentmesh/v1/tool_service.js';
import { Code, codeName, MeshError } from '../../core/index.js';

export { IDEMPOTENCY_KEY_META } from './mcp-methods.js';

const isObjectSchema = (s: unknown): s is Record<string, unknown> =>
  typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'object';

/**
 * The tools of a card as MCP lists them: inputSchema = the arguments schema
 * (an object schema, as MCP requires), outputSchema = the result schema only
 * when it describes an object (MCP's structuredContent is an object), and
 * idempotentHint from the card.
 */
export function mcpToolsOf(card: ToolCard): Tool[] {
  return card.tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: { type: 'object', ...(t.argumentsSchema ?? {}) } as Tool['inputSchema'],
    ...(isObjectSchema(t.resultSchema) && { outputSchema: t.resultSchema as Tool['outputSchema'] }),
    annotations: { idempotentHint: t.idempotent },
  }));
}

/** An InvokeTool answer as an MCP result: the JSON as text, and structuredContent when the result is an object. */
export function callResultOf(response: InvokeToolResponse): CallToolResult {
  const result: unknown = response.result ?? null;
  const structured = typeof result === 'object' && result !== null && !Array.isArray(result);
  return {
    content: [{ type: 'text', text: JSON.stringify(result) }],
    ...(structured && { structuredContent: result as Record<string, unknown> }),
    ...(response.replayed && { _meta: { 'io.agentmesh/replayed': true } }),
  };
}

// A server fault: the caller learns nothing of it but that it happened (the detail is in the service's log).
const INTERNAL = new Set([Code.INTERNAL, Code.UNKNOWN, Code.DATA_LOSS, Code.UNIMPLEMENTED]);

/** The `data` key of a JSON-RPC error carrying the gRPC status name, so a mesh client can decide on a retry. */
export const CODE_DATA_KEY = 'io.agentmesh/code';

/** The JSON-RPC error code of a transient failure (the implementation-defined server error range). */
export const TRANSIENT_ERROR_CODE = -32000;

// Failures that say "not now" rather than "not this": a retry may succeed, so they are no tool result a model should read.
const TRANSIENT = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.ABORTED]);

/**
 * A transient failure (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
 * ABORTED) as a JSON-RPC error -32000 "<CODE>: <message>" whose data names the
 * code, or undefined for any other failure.
 */
export function transientErrorOf(e: MeshError): ProtocolError | undefined {
  if (!TRANSIENT.has(e.code)) return undefined;
  const code = codeName(e.code);
  return new ProtocolError(TRANSIENT_ERROR_CODE, `${code}: ${e.message}`, { [CODE_DATA_KEY]: code });
}

/**
 * What a failed InvokeTool becomes in MCP: an unknown tool is a protocol
 * error (-32602, invalid params, as the MCP spec asks), a server fault a
 * generic -32603, a transient failure -32000 naming its code (a caller may
 * retry it); everything else — bad arguments, a refused precondition — is a
 * tool result with isError, so the model sees why and can correct the call.
 */
export function callFailureOf(err: unknown): CallToolResult {
  const e = MeshError.from(err);
  const transient = transientErrorOf(e);
  if (transient) throw transient;
  if (e.code === Code.NOT_FOUND && /^tool .* does not exist/.test(e.message)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, e.message);
  }
  if (INTERNAL.has(e.code)) throw new ProtocolError(ProtocolErrorCode.InternalError, 'internal error');
  return { isError: true, content: [{ type: 'text', text: `${codeName(e.code)}: ${e.message}` }] };
}
