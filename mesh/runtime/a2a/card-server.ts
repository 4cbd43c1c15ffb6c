import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { parseSpiffeId, spiffeUrisOf, type CertificateFiles, type Transport } from '../../security/index.js';
import { AGENT_CARD_PATH } from './a2a-card.js';

/** Where and how an agent serves its public A2A card. */
export interface CardServerOptions {
  /** Interface to bind (AGENTMESH_A2A_CARD_HOST). */
  host: string;
  /** Port to bind; 0: any free port (AGENTMESH_A2A_CARD_PORT). */
  port: number;
  /** The agent's transport: its mode decides HTTPS with client certificates (mtls) or plain HTTP (istio, insecure). */
  transport: Transport;
  /** The public card, as its JSON text (ProtoJSON of the A2A AgentCard); undefined while the agent starts. */
  body: () => string | undefined;
  log: Logger;
}

/** A running card server. */
export interface CardServer {
  /** http or https, as the transport mode says. */
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Stops accepting and ends open connections. */
  close(): Promise<void>;
}

// The card changes only when the agent restarts (address, policy): a few minutes of caching saves callers round trips.
const CACHE_CONTROL = 'public, max-age=300';
const ALLOW = 'GET, HEAD';

/** Answers GET/HEAD of the card path; 404 elsewhere, 405 (with Allow) for other methods there. */
function handler(body: () => string | undefined) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_CARD_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: ALLOW, 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const text = body();
    if (text === undefined) {
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain; charset=utf-8' }).end('starting\n');
      return;
    }
    const json = Buffer.from(text);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': json.length,
      'cache-control': CACHE_CONTROL,
    });
    res.end(req.method === 'HEAD' ? undefined : json);
  };
}

/** TLS settings from the current certificate files: client certificates required and verified against the mesh CA. */
const tlsOptions = (files: CertificateFiles): ServerOptions => ({
  cert: files.certificatePem,
  key: files.privateKeyPem,
  ca: files.caPem,
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.2',
});

/**
 * An HTTPS server in mtls mode: the workload certificate (a rotated
 * certificate or CA is served to new connections without a restart), a client
 * certificate of the mesh CA required, and — as on the gRPC port — its SPIFFE
 * ID of the mesh's trust domain, else the connection is closed.
 */
function mtlsServer(o: CardServerOptions, files: CertificateFiles): { server: Server; stop: () => void } {
  const server = createHttpsServer(tlsOptions(files), handler(o.body));
  server.on('secureConnection', (socket: TLSSocket) => {
    const ids = spiffeUrisOf(socket.getPeerCertificate());
    const id = ids.length === 1 ? parseSpiffeId(ids[0]!) : undefined;
    if (id?.trustDomain === o.transport.options.trustDomain) return;
    o.log.warn({ peer: ids.join(',') || '(no SPIFFE ID)' }, 'a2a card: client certificate not of this trust domain');
    socket.destroy();
  });
  const reload = () => server.setSecureContext(tlsOptions(files));
  const onIdentity = (update: unknown) => update && reload();
  const onCa = (update: unknown) => update && reload();
  files.addIdentityCertificateListener(onIdentity);
  files.addCaCertificateListener(onCa);
  return {
    server,
    stop: () => {
      files.removeIdentityCertificateListener(onIdentity);
      files.removeCaCertificateListener(onCa);
    },
  };
}

/**
 * Serves the agent's public A2A AgentCard at /.well-known/agent-card.json (A2A
 * §8.2) on a port of its own. The transport follows the gRPC port's: HTTPS
 * with mutual TLS in mtls mode; plain HTTP in istio mode (the sidecar
 * terminates mTLS) and insecure mode. No token: the public card says how to
 * get one; the extended card is GetExtendedAgentCard, for authenticated callers.
 */
export async function startCardServer(o: CardServerOptions): Promise<CardServer> {
  const files = o.transport.mode === 'mtls' ? o.transport.certificateFiles : undefined;
  if (o.transport.mode === 'mtls' && !files) throw new Error('mtls transport without certificate files');
  const { server, stop } = files
    ? mtlsServer(o, files)
    : { server: createHttpServer(handler(o.body)), stop: () => undefined };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    scheme: files ? 'https' : 'http',
    host: o.host,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The origin of a card server: scheme://host:port, an IPv6 host in brackets. */
export function originOf(s: Pick<CardServer, 'scheme' | 'host' | 'port'>): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${s.scheme}://${host}:${s.port}`;
}
