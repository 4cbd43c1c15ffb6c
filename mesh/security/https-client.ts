import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { isIP } from 'node:net';
import { checkServerIdentity as checkHost, type PeerCertificate } from 'node:tls';

/** An HTTP answer with its body read. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Options for httpRequest. */
export interface HttpRequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA bundle to trust for https (the mesh CA); default: the system's. */
  ca?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A longer answer body fails the request (default: unbounded). */
  maxBodyBytes?: number;
  /** Extra TLS check of the server's certificate (the host name is checked first, as always). */
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}

/**
 * A small HTTP(S) client that can trust a private CA, which global fetch
 * cannot without an extra dispatcher package. Used for token endpoints and JWKS.
 */
export function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpAnswer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? request : plainRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        // SNI carries host names only; Node warns (DEP0123) when it would send an IP address.
        ...(isIP(target.hostname) ? { servername: '' } : {}),
        timeout: options.timeoutMs ?? 10_000,
        signal: options.signal,
        // A socket or TLS session of the shared agent could skip the check: its own connection then.
        ...(options.checkServerIdentity
          ? {
              agent: false,
              checkServerIdentity: (host: string, cert: PeerCertificate) =>
                checkHost(host, cert) ?? options.checkServerIdentity!(host, cert),
            }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (options.maxBodyBytes !== undefined && size > options.maxBodyBytes)
            return void req.destroy(new Error(`answer of ${target.origin} longer than ${options.maxBodyBytes} bytes`));
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${target.origin} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
