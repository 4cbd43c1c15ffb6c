import { request, type RequestOptions } from 'node:https';

/**
 * A `fetch` for GETs over node:https with the TLS options given (a CA, a client
 * certificate, an identity check): what an A2A client's card resolver needs to
 * read a card from an agent that asks for a client certificate, which the global
 * fetch cannot present.
 */
export function httpsFetch(
  tls: Pick<RequestOptions, 'ca' | 'key' | 'cert' | 'checkServerIdentity' | 'servername'>,
): typeof fetch {
  return ((input: URL | string, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(
        String(input),
        { ...tls, method: 'GET', headers: init?.headers as Record<string, string> | undefined },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              for (const value of [v ?? []].flat()) headers.append(k, value);
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    })) as typeof fetch;
}
