import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { Readable, Transform, pipeline } from 'node:stream';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { spiffeUrisOf } from '../../security/index.js';

// The global fetch cannot be told which CAs to trust per request (that needs undici's
// dispatcher) nor check a peer's SPIFFE IDs, and an external MCP server is checked against
// exactly its registered CA bundle (or the system roots), never the process-wide defaults. So the
// MCP client transport (agents' steps, the CLI's listing) gets this node:https fetch instead.

/** The fetch the MCP SDK's client transport takes (the global fetch's shape). */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch over node:https with its own trust, and the means to close its kept-alive connections. */
export interface TlsFetch {
  fetch: FetchLike;
  /** Closes kept-alive connections (a process that is done need not wait for them to time out). */
  close(): void;
}

/** Options of tlsFetch. */
export interface TlsFetchOptions {
  /** PEM CA bundle trusted, and only it; undefined or empty: the system's root CAs. */
  caPem?: string;
  /** A further check of the server's certificate, after its host name's (an Error refuses it). */
  checkServer?: (host: string, cert: PeerCertificate) => Error | undefined;
  /** Gives up on a request with no response headers after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** A longer response body fails (default 16 MiB). */
  maxBodyBytes?: number;
}

const NOT_SENT = Symbol.for('agentmesh.mcp.not-sent');
const NO_BODY_STATUS = new Set([204, 205, 304]);

/** Sockets whose TLS handshake completed (kept alive, they serve later requests). */
const established = new WeakSet<object>();

/** Whether `err` (or an error in its cause chain) failed before the request reached the server (no connection, refused certificate). */
export function notSent(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++)
    if ((e as Record<symbol, unknown>)[NOT_SENT]) return true;
  return false;
}

/**
 * A certificate check refusing a SPIFFE ID of the mesh's trust domain: a mesh workload is not an
 * external server, whatever CA bundle its entry names.
 */
export function notAMeshWorkload(trustDomain: string): (host: string, cert: PeerCertificate) => Error | undefined {
  const prefix = `spiffe://${trustDomain.toLowerCase()}/`;
  return (_host, cert) => {
    const mesh = spiffeUrisOf(cert).find((uri) => uri.toLowerCase().startsWith(prefix));
    return mesh
      ? new Error(`server certificate names mesh workload ${mesh}: a mesh workload is not an external MCP server`)
      : undefined;
  };
}

function bodyOf(body: RequestInit['body']): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  // The MCP transports send JSON text; anything else is a programming error, not a network one.
  throw new TypeError('tlsFetch: only string or byte bodies are supported');
}

/**
 * A fetch for https:// URLs only: trusting exactly `caPem` when given (else the system roots),
 * the host name and `checkServer` checked on every connection (a dedicated agent without TLS
 * session reuse), the response streamed (SSE answers are read as they come) up to
 * `maxBodyBytes`. An error before the TLS handshake completed is marked (notSent): the server
 * cannot have acted on that request.
 */
export function tlsFetch(options: TlsFetchOptions = {}): TlsFetch {
  const ca = options.caPem?.trim() ? options.caPem : undefined;
  const extra = options.checkServer;
  const check = (host: string, cert: PeerCertificate) => checkServerIdentity(host, cert) ?? extra?.(host, cert);
  const agent = new Agent({ keepAlive: true, maxCachedSessions: 0 });
  const idleMs = options.idleTimeoutMs ?? 30_000;
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const fetch: FetchLike = (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const fail = (err: Error, sent: boolean) =>
        reject(
          Object.assign(
            new TypeError(`fetch ${url.origin} failed: ${err.message}`, { cause: err }),
            sent ? {} : { [NOT_SENT]: true },
          ),
        );
      if (url.protocol !== 'https:') return fail(new Error(`${url.protocol} is not https:`), false);
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason as Error);
      const method = (init.method ?? 'GET').toUpperCase();
      let connected = false;
      const req = request(url, {
        method,
        agent,
        ca,
        checkServerIdentity: check,
        // SNI carries host names only; Node warns (DEP0123) when it would send an IP address.
        ...(isIP(url.hostname) ? { servername: '' } : {}),
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        timeout: idleMs,
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
      req.on('response', (res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
        const status = res.statusCode ?? 502;
        const empty = NO_BODY_STATUS.has(status) || method === 'HEAD';
        // Headers arrived: an event stream may stay quiet for long, so the idle timeout no longer applies.
        req.setTimeout(0);
        if (empty) res.resume();
        let size = 0;
        const capped = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            size += chunk.length;
            done(size > maxBody ? new Error(`answer of ${url.origin} longer than ${maxBody} bytes`) : null, chunk);
          },
        });
        if (!empty) pipeline(res, capped, () => undefined);
        resolve(
          new Response(empty ? null : (Readable.toWeb(capped) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage ?? '',
            headers,
          }),
        );
      });
      const onAbort = () => req.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${idleMs / 1000} s`)));
      req.on('error', (err) => {
        const aborted = signal?.aborted;
        // Aborted (deadline, cancellation): the caller's reason, marked when nothing reached the server.
        if (aborted && connected) return reject(signal!.reason as Error);
        fail(aborted ? (signal!.reason as Error) : err, connected);
      });
      req.end(bodyOf(init.body));
    });
  return { fetch, close: () => agent.destroy() };
}
