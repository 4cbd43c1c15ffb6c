import { request } from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { spiffeUrisOf } from '../../security/index.js';

/** The fetch the MCP SDK's transport takes (a subset of the global fetch's signature). */
export type McpFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** What an external MCP server's TLS is checked against. */
export interface McpTlsOptions {
  /** PEM CA bundle, and only it; empty: the system's root CAs (never the mesh CA). */
  caPem: string;
  /** The mesh's trust domain: a server certificate naming a SPIFFE ID of it is a mesh workload. */
  trustDomain: string;
}

const NOT_SENT = Symbol.for('agentmesh.mcp.not-sent');

/** Sockets whose TLS handshake completed (kept alive, they serve later requests). */
const established = new WeakSet<object>();

/** Whether `err` (or an error in its cause chain) failed before the request reached the server (no connection, refused certificate). */
export function notSent(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++)
    if ((e as Record<symbol, unknown>)[NOT_SENT]) return true;
  return false;
}

/**
 * An external server's certificate: the URL's host name as any TLS client checks it, and no SPIFFE
 * ID of the mesh's trust domain (a mesh workload is not an external MCP server, whatever CA bundle
 * its entry names).
 */
export function externalMcpServerIdentity(host: string, cert: PeerCertificate, trustDomain: string): Error | undefined {
  const wrongHost = checkServerIdentity(host, cert);
  if (wrongHost) return wrongHost;
  const prefix = `spiffe://${trustDomain.toLowerCase()}/`;
  const mesh = spiffeUrisOf(cert).find((uri) => uri.toLowerCase().startsWith(prefix));
  return mesh
    ? new Error(`server certificate names mesh workload ${mesh}: a mesh workload is not an external MCP server`)
    : undefined;
}

/** Header values of a fetch init as a plain record (Headers, pairs or a record). */
function headersOf(init: RequestInit | undefined): Record<string, string> {
  return Object.fromEntries(new Headers(init?.headers).entries());
}

/**
 * A fetch over node:https for the MCP SDK's Streamable HTTP transport: the global fetch cannot
 * trust a private CA without another package, nor check the peer's SPIFFE IDs. HTTPS only; the
 * answer's body streams (SSE answers are read as they come). An error before the TLS handshake
 * completed carries a mark (notSent): the server cannot have acted on such a request.
 */
export function mcpFetch(tls: McpTlsOptions): McpFetch {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(String(url));
      if (target.protocol !== 'https:') {
        reject(
          Object.assign(new Error(`external MCP servers are called over https only (got ${target.protocol})`), {
            [NOT_SENT]: true,
          }),
        );
        return;
      }
      let connected = false;
      const req = request(target, {
        method: init?.method ?? 'GET',
        headers: headersOf(init),
        ca: tls.caPem.trim() ? tls.caPem : undefined,
        // SNI carries host names only; Node warns (DEP0123) when it would send an IP address.
        ...(isIP(target.hostname) ? { servername: '' } : {}),
        checkServerIdentity: (host, cert) => externalMcpServerIdentity(host, cert, tls.trustDomain),
        signal: init?.signal ?? undefined,
      });
      req.on('socket', (socket) => {
        // A kept-alive socket is connected already.
        if (established.has(socket)) connected = true;
        else
          socket.once('secureConnect', () => {
            established.add(socket);
            connected = true;
          });
      });
      req.on('error', (err) => reject(connected ? err : Object.assign(err, { [NOT_SENT]: true })));
      req.on('response', (res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
        const status = res.statusCode ?? 502;
        const empty = status === 204 || status === 304 || init?.method === 'HEAD';
        if (empty) res.resume();
        resolve(
          new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage,
            headers,
          }),
        );
      });
      req.end(
        typeof init?.body === 'string' ? init.body : init?.body ? Buffer.from(init.body as ArrayBuffer) : undefined,
      );
    });
}
