/** gRPC path of ToolService.ListTools, which MCP tools/list (and talking to the server at all) is checked as. */
export const LIST_TOOLS_PATH = '/agentmesh.v1.ToolService/ListTools';

/** gRPC path of ToolService.InvokeTool, which MCP tools/call is checked and run as. */
export const INVOKE_TOOL_PATH = '/agentmesh.v1.ToolService/InvokeTool';

/**
 * The ToolService method whose policy rule a JSON-RPC method needs: tools/call
 * is InvokeTool; everything else (initialize, ping, tools/list, notifications)
 * is ListTools, since a caller allowed to see nothing may not talk to the
 * server either. Methods the server does not serve are still gated, then
 * answered "method not found" by the MCP layer.
 */
export function meshPathOf(jsonRpcMethod: string): string {
  return jsonRpcMethod === 'tools/call' ? INVOKE_TOOL_PATH : LIST_TOOLS_PATH;
}

/**
 * The ToolService methods a POST body needs, deduplicated (a body may be a
 * JSON-RPC batch); an entry without a string method (a response, garbage)
 * counts as ListTools, so the token is checked whatever the body holds.
 */
export function meshPathsOf(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const paths = new Set<string>();
  for (const m of messages) {
    const method = (m as { method?: unknown } | null)?.method;
    paths.add(typeof method === 'string' ? meshPathOf(method) : LIST_TOOLS_PATH);
  }
  return [...paths];
}

/** The `_meta` key of params of tools/call carrying the idempotency key of a non-idempotent tool. */
export const IDEMPOTENCY_KEY_META = 'io.agentmesh/idempotency-key';
