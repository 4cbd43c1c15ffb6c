import { Agent, request } from 'node:https';
import { Readable } from 'node:stream';

// The global fetch cannot be told which CAs to trust per request (that needs undici's
// dispatcher), and an external MCP server is checked against exactly its registered CA bundle
// (or the system roots), never the process-wide defaults. So the MCP client transport gets this
// node:https fetch instead: any method, headers and body in, the response body streamed out (the
// server may answer a POST with an event stream).

/** The fetch the MCP SDK's client transport takes (the global fetch's shape). */
export type HttpsFetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch over node:https with its own trust, and the means to close its idle connections. */
export interface HttpsFetch {
  fetch: HttpsFetchLike;
  /** Closes kept-alive connections (a process that is done need not wait for them to time out). */
  close(): void;
}

/** Options of httpsFetch. */
export interface HttpsFetchOptions {
  /** PEM CA bundle trusted, and only it; undefined or empty: the system's root CAs. */
  caPem?: string;
  /** Gives up on a request with no response (headers) after this long (default 30 s). */
  timeoutMs?: number;
}

const NO_BODY_STATUS = new Set([204, 205, 304]);

function bodyOf(body: RequestInit['body']): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  // The MCP transports send JSON text; anything else is a programming error, not a network one.
  throw new TypeError('httpsFetch: only string or byte bodies are supported');
}

/** A fetch for https:// URLs only, trusting exactly `caPem` when given (else the system roots). */
export function httpsFetch(options: HttpsFetchOptions = {}): HttpsFetch {
  const agent = new Agent({ keepAlive: true, ...(options.caPem?.trim() ? { ca: options.caPem } : {}) });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const fetch: HttpsFetchLike = (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      if (url.protocol !== 'https:') return reject(new TypeError(`httpsFetch: ${url.protocol} is not https:`));
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason as Error);
      const method = (init.method ?? 'GET').toUpperCase();
      const body = bodyOf(init.body);
      const req = request(
        url,
        { method, agent, headers: Object.fromEntries(new Headers(init.headers).entries()), timeout: timeoutMs },
        (res) => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers))
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
          const status = res.statusCode ?? 502;
          const empty = NO_BODY_STATUS.has(status) || method === 'HEAD';
          if (empty) res.resume();
          // Headers arrived: an event stream may stay quiet for long, so the idle timeout no longer applies.
          req.setTimeout(0);
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage ?? '',
              headers,
            }),
          );
        },
      );
      const onAbort = () => req.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs / 1000} s`)));
      req.on('error', (err) => reject(new TypeError(`fetch ${url.origin} failed: ${err.message}`, { cause: err })));
      req.end(body);
    });
  return { fetch, close: () => agent.destroy() };
}
