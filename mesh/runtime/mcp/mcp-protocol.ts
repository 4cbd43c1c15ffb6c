import { Metadata } from '@grpc/grpc-js';
import { context, propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtocolError, ProtocolErrorCode, Server } from '@modelcontextprotocol/server';
import type {
  InvokeToolRequest,
  InvokeToolResponse,
  ListToolsResponse,
} from '../../../gen/agentmesh/v1/tool_service.js';
import { Code, codeName, MeshError, type PeerIdentity } from '../../core/index.js';
import type { MeshServer } from '../../server/index.js';
import { meshTracer } from '../../telemetry/index.js';
import { INVOKE_TOOL_PATH, LIST_TOOLS_PATH } from './mcp-methods.js';
import { callFailureOf, callResultOf, IDEMPOTENCY_KEY_META, mcpToolsOf, transientErrorOf } from './mcp-tools.js';

/** One HTTP request to the MCP endpoint, as the HTTP layer authenticated it. */
export interface McpRequestCall {
  /** The Authorization header, passed on to the interceptor chain, which checks it again. */
  authorization: string;
  identity: PeerIdentity;
  peer: string;
  /** The request's own W3C trace headers: the trace joined when the message's `_meta` names none. */
  headers: { traceparent?: string; tracestate?: string };
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Runs `fn` in a SERVER span of the trace the caller names: `_meta.traceparent`
 * and `tracestate` of the message (the MCP convention), else the HTTP headers.
 * The tool's span and its audit record's trace_id then belong to the caller's trace.
 */
function inCallerTrace<T>(
  name: string,
  meta: Record<string, unknown> | undefined,
  call: McpRequestCall,
  fn: () => Promise<T>,
): Promise<T> {
  const traceparent = str(meta?.traceparent) ?? call.headers.traceparent;
  const tracestate = traceparent === str(meta?.traceparent) ? str(meta?.tracestate) : call.headers.tracestate;
  const carrier = { ...(traceparent && { traceparent }), ...(tracestate && { tracestate }) };
  const parent = propagation.extract(context.active(), carrier);
  const attributes = { 'rpc.system': 'mcp', 'mcp.method.name': name };
  return meshTracer().startActiveSpan(`mcp ${name}`, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(MeshError.from(err).code) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * The dispatch() call of one MCP message: the caller's token and identity,
 * cancelled with the message, and a deadline of the server's own (MCP
 * requests carry none), so a stuck tool ends DEADLINE_EXCEEDED.
 */
function dispatched(call: McpRequestCall, signal: AbortSignal, timeoutMs: number) {
  const metadata = new Metadata();
  metadata.set('authorization', call.authorization);
  const deadline = new Date(Date.now() + timeoutMs);
  return { metadata, peer: call.peer, identity: call.identity, signal, deadline };
}

/** A protocol error for a failed ListTools: transient ones as for tools/call, generic when the server is at fault. */
function listFailureOf(err: unknown): never {
  const e = MeshError.from(err);
  const transient = transientErrorOf(e);
  if (transient) throw transient;
  const internal = [Code.INTERNAL, Code.UNKNOWN, Code.DATA_LOSS].includes(e.code);
  throw new ProtocolError(
    ProtocolErrorCode.InternalError,
    internal ? 'internal error' : `${codeName(e.code)}: ${e.message}`,
  );
}

/**
 * The MCP server of one stateless request: tools/list and tools/call run as
 * ToolService ListTools and InvokeTool through MeshServer.dispatch, so the
 * token check, the policy, the access log, the metrics, the audit record and
 * the handler are those of the gRPC port. A new one per request: no session
 * state, so any replica answers any request.
 */
export function mcpProtocolServer(
  o: { server: MeshServer; name: string; version: string; timeoutMs: number },
  call: McpRequestCall,
): Server {
  const mcp = new Server(
    { name: o.name, version: o.version },
    { capabilities: { tools: {} }, instructions: `Tools of the agentmesh tool service ${o.name}.` },
  );
  mcp.setRequestHandler('tools/list', (req, ctx) =>
    inCallerTrace('tools/list', req.params?._meta, call, async () => {
      const res = (await o.server
        .dispatch(LIST_TOOLS_PATH, {}, dispatched(call, ctx.mcpReq.signal, o.timeoutMs))
        .catch(listFailureOf)) as ListToolsResponse;
      return { tools: res.card ? mcpToolsOf(res.card) : [] };
    }),
  );
  mcp.setRequestHandler('tools/call', (req, ctx) =>
    inCallerTrace('tools/call', req.params._meta, call, async () => {
      const key: unknown = req.params._meta?.[IDEMPOTENCY_KEY_META];
      if (key !== undefined && typeof key !== 'string') {
        const text = `INVALID_ARGUMENT: _meta["${IDEMPOTENCY_KEY_META}"] must be a string`;
        return { isError: true, content: [{ type: 'text' as const, text }] };
      }
      const request: InvokeToolRequest = {
        tool: req.params.name,
        arguments: req.params.arguments ?? {},
        idempotencyKey: key ?? '',
        context: undefined,
      };
      try {
        const res = await o.server.dispatch(
          INVOKE_TOOL_PATH,
          request,
          dispatched(call, ctx.mcpReq.signal, o.timeoutMs),
        );
        return callResultOf(res as InvokeToolResponse);
      } catch (err) {
        return callFailureOf(err);
      }
    }),
  );
  return mcp;
}
