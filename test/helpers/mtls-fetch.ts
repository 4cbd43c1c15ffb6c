import { request, type RequestOptions } from 'node:https';
import { Readable } from 'node:stream';

/** TLS settings of a request: the CA to trust, the client certificate to present (or none). */
export type TlsSettings = Pick<RequestOptions, 'ca' | 'key' | 'cert' | 'checkServerIdentity' | 'servername'>;

/**
 * A `fetch` over node:https with the TLS options given (a CA, a client certificate,
 * an identity check), any method, a string or byte body, and the response body
 * streamed (an MCP client reads server-sent events as they come): what the MCP
 * SDK's Streamable HTTP client needs to reach an endpoint asking for a client
 * certificate, which the global fetch cannot present.
 */
export function mtlsFetch(tls: TlsSettings): typeof fetch {
  return (async (input: URL | string | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const raw = init?.body ?? (input instanceof Request && input.body ? await input.arrayBuffer() : undefined);
    const body = raw === undefined || raw === null ? undefined : Buffer.from(await new Response(raw).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = request(url, { ...tls, method, headers: Object.fromEntries(headers) }, (res) => {
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const value of [v ?? []].flat()) out.append(k, value);
        const empty = res.statusCode === 204 || res.statusCode === 304 || method === 'HEAD';
        const stream = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        if (empty) res.resume();
        resolve(new Response(stream, { status: res.statusCode, headers: out }));
      });
      req.on('error', reject);
      init?.signal?.addEventListener('abort', () => req.destroy(init.signal!.reason as Error), { once: true });
      req.end(body);
    });
  }) as typeof fetch;
}
