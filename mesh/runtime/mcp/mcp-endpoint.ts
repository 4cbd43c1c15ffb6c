import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { Logger } from 'pino';
import { isMeshError } from '../../core/index.js';
import type { MeshServer } from '../../server/index.js';
import type { Transport } from '../../security/index.js';
import { authenticate, authorizePaths, identityOf, peerOf, type GateOptions } from './mcp-caller.js';
import {
  MCP_PATH,
  RESOURCE_METADATA_PATH,
  RESOURCE_METADATA_ROOT_PATH,
  type ProtectedResourceMetadata,
} from './mcp-challenge.js';
import { meshPathsOf } from './mcp-methods.js';
import { mcpProtocolServer } from './mcp-protocol.js';
import { refuse, type RefusedCall } from './mcp-refusal.js';

/** The largest POST body accepted: tool arguments are small JSON, and an unbounded body is a memory exhaustion vector. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What the endpoint serves and checks. */
export interface EndpointOptions {
  server: MeshServer;
  name: string;
  version: string;
  transport: Transport;
  /** The deadline of each dispatched call (AGENTMESH_MCP_TIMEOUT_MS). */
  timeoutMs: number;
  /** Let callers without a workload identity in (AGENTMESH_MCP_CLIENT_CERT=optional). */
  optionalIdentity: boolean;
  gate: GateOptions;
  /** The RFC 9728 document and its URL, for challenges. */
  metadata: () => { document: ProtectedResourceMetadata; url: string; challengeScopes: string[] };
  /** Origins a browser may send requests from: the endpoint's own (DNS rebinding defence). */
  allowedOrigins: () => string[];
  log: Logger;
}

const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${body}\n`);

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/** The body, or undefined (answered 413) when it is larger than MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  // Answered at once, the rest of the body left unread: `connection: close` ends the connection after the answer.
  const tooLarge = () => {
    text(res, 413, `request body larger than ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
    return undefined;
  };
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The RFC 9728 document: public (a client reads it before it has a token). */
function serveMetadata(req: IncomingMessage, res: ServerResponse, o: EndpointOptions) {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return text(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
  const body = Buffer.from(JSON.stringify(o.metadata().document));
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'max-age=300',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** A browser's Origin must be the endpoint's own; clients that are not browsers send none. */
function originAllowed(req: IncomingMessage, o: EndpointOptions): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const normal = (v: string) => {
    try {
      return new URL(v).origin;
    } catch {
      return undefined;
    }
  };
  // An unparseable Origin matches nothing, not another unparseable (or unset) value.
  const wanted = normal(origin);
  return wanted !== undefined && o.allowedOrigins().some((allowed) => normal(allowed) === wanted);
}

/** One POST to /mcp: identity, Origin, bounded JSON body, the token and policy gate, then the SDK's stateless transport. */
async function serveMcp(req: IncomingMessage, res: ServerResponse, o: EndpointOptions) {
  if (req.method !== 'POST')
    return text(res, 405, 'method not allowed: stateless MCP endpoint, POST only', { allow: 'POST' });
  if (!originAllowed(req, o)) return text(res, 403, 'origin not allowed');
  let identity;
  try {
    identity = identityOf(req, o.transport, o.optionalIdentity);
  } catch (err) {
    if (!isMeshError(err)) throw err;
    o.log.warn({ reason: err.message }, 'mcp: no workload identity');
    return text(res, 403, `no workload identity: ${err.message}`);
  }
  // Draining: another replica answers (the gRPC port refuses its new calls at the same moment).
  if (!o.server.accepting) {
    return json(res, 503, { error_description: 'server is shutting down: retry' }, { 'retry-after': '1' });
  }
  const authorization = req.headers.authorization;
  const caller: RefusedCall = { authorization, identity, peer: peerOf(req) };
  // The token first, from the header: an unauthenticated caller makes the server read no body.
  const authenticated = await authenticate(o.gate, authorization);
  if ('status' in authenticated) return refuse(res, authenticated, o, caller);
  const raw = await readBody(req, res);
  if (!raw) return;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return json(res, 400, {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'parse error: body is not JSON' },
    });
  }
  const refusal = authorizePaths(o.gate, meshPathsOf(body), identity, authenticated.scopes);
  if (refusal) return refuse(res, refusal, o, caller);
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
  const call = {
    authorization: authorization!,
    identity,
    peer: caller.peer,
    headers: { traceparent: header('traceparent'), tracestate: header('tracestate') },
  };
  const mcp = mcpProtocolServer(o, call);
  const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    transport
      .close()
      .then(() => mcp.close())
      .catch((err: unknown) => o.log.warn({ err }, 'mcp: closing a request transport failed'));
  });
  await mcp.connect(transport);
  await transport.handleRequest(req, res, body);
}

/** The request listener of the MCP port: /mcp, the RFC 9728 metadata (both forms), 404 elsewhere. */
export function mcpEndpoint(o: EndpointOptions) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    const served = (async () => {
      if (path === MCP_PATH) return serveMcp(req, res, o);
      if (path === RESOURCE_METADATA_PATH || path === RESOURCE_METADATA_ROOT_PATH) return serveMetadata(req, res, o);
      text(res, 404, 'not found');
    })();
    served.catch((err: unknown) => {
      o.log.error({ err }, 'mcp: request failed');
      if (!res.headersSent) text(res, 500, 'internal error');
      else res.destroy();
    });
  };
}
