// A stand-in for Istio's inbound sidecar, for tests of services in istio
// transport mode: it terminates mTLS from callers with the workload's
// certificate (verifying theirs against the mesh CA), and forwards every
// HTTP/2 stream in plaintext to the service, from 127.0.0.6 as Envoy's
// inbound cluster does, with the x-forwarded-client-cert element Envoy adds
// for Istio (By, Hash, Subject, URI, DNS; forward_client_cert_details
// APPEND_FORWARD, or SANITIZE_SET). Headers, data, trailers, trailers-only
// answers and resets pass through as they arrive, so streams stream.
import { createHash, X509Certificate } from 'node:crypto';
import {
  connect as connectHttp2,
  constants,
  createSecureServer,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** How the proxy treats an x-forwarded-client-cert the caller sent (Envoy's forward_client_cert_details). */
export type XfccForwarding = 'append-forward' | 'sanitize-set';

export interface SidecarProxyOptions {
  /** host:port of the service, listening in plaintext. */
  upstream: string;
  /** The workload's certificate and key (PEM), presented to callers, and the mesh CA their certificates must chain to. */
  cert: string;
  key: string;
  ca: string;
  /** Source address of the connection to the service (default 127.0.0.6, Envoy's inbound bind address). */
  sourceAddress?: string;
  /** Default append-forward: what Istio configures for sidecar inbound listeners. */
  forwarding?: XfccForwarding;
}

/** A running proxy. */
export interface SidecarProxy {
  /** host:port callers connect to with mTLS. */
  address: string;
  /** Every x-forwarded-client-cert sent to the service, in order. */
  forwarded: string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);
const XFCC = 'x-forwarded-client-cert';

/** The element Envoy appends for a verified client certificate, with Istio's set_current_client_cert_details (Subject, URI, DNS). */
export function xfccElement(serverCertPem: string, clientCertDer: Buffer): string {
  const server = new X509Certificate(serverCertPem);
  const client = new X509Certificate(clientCertDer);
  const sans = (c: X509Certificate, kind: string) =>
    (c.subjectAltName ?? '')
      .split(', ')
      .filter((s) => s.startsWith(`${kind}:`))
      .map((s) => s.slice(kind.length + 1));
  // RFC 2253 order (most specific first), as Envoy prints the subject.
  const subject = client.subject.split('\n').reverse().join(',').replace(/"/g, '\\"');
  return [
    `By=${sans(server, 'URI')[0] ?? ''}`,
    `Hash=${createHash('sha256').update(clientCertDer).digest('hex')}`,
    `Subject="${subject}"`,
    ...sans(client, 'URI').map((u) => `URI=${u}`),
    ...sans(client, 'DNS').map((d) => `DNS=${d}`),
  ].join(';');
}

function forwardable(headers: IncomingHttpHeaders | OutgoingHttpHeaders): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k)));
}

/** Starts the proxy on 127.0.0.1, port 0. */
export async function startSidecarProxy(options: SidecarProxyOptions): Promise<SidecarProxy> {
  const forwarding = options.forwarding ?? 'append-forward';
  const [host, port] = [
    options.upstream.slice(0, options.upstream.lastIndexOf(':')),
    Number(options.upstream.slice(options.upstream.lastIndexOf(':') + 1)),
  ];
  const forwarded: string[] = [];
  const sessions = new Set<ServerHttp2Session>();
  let upstream: ClientHttp2Session | undefined;
  const upstreamSession = () => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = connectHttp2(`http://${options.upstream}`, {
        createConnection: () => connectTcp({ host, port, localAddress: options.sourceAddress ?? '127.0.0.6' }),
      });
      upstream.on('error', () => undefined); // each stream reports its own failure
    }
    return upstream;
  };

  const server = createSecureServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const socket = stream.session!.socket as TLSSocket;
    const element = xfccElement(options.cert, socket.getPeerCertificate().raw);
    const sent = headers[XFCC];
    const xfcc =
      forwarding === 'append-forward' && sent ? `${Array.isArray(sent) ? sent.join(',') : sent},${element}` : element;
    forwarded.push(xfcc);
    const request = upstreamSession().request({ ...forwardable(headers), ':scheme': 'http', [XFCC]: xfcc });
    let trailers: OutgoingHttpHeaders = {};
    let responded = false;

    request.on('response', (h, flags) => {
      responded = true;
      // A HEADERS frame ending the stream is a trailers-only answer (gRPC errors): pass it as such.
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) stream.respond(forwardable(h), { endStream: true });
      else stream.respond(forwardable(h), { waitForTrailers: true });
    });
    request.on('trailers', (t) => (trailers = forwardable(t)));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    request.on('data', (chunk: Buffer) => {
      if (!stream.write(chunk)) {
        request.pause();
        stream.once('drain', () => request.resume());
      }
    });
    request.on('end', () => {
      if (!stream.destroyed && !stream.writableEnded) stream.end();
    });
    request.on('error', () => {
      if (stream.destroyed) return;
      // What Envoy answers when the service cannot be reached: UNAVAILABLE.
      if (!responded)
        stream.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc',
            'grpc-status': '14',
            'grpc-message': 'upstream connect error',
          },
          { endStream: true },
        );
      else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
    request.on('close', () => {
      if (request.rstCode && request.rstCode !== constants.NGHTTP2_NO_ERROR && !stream.destroyed)
        stream.close(request.rstCode);
    });
    stream.on('close', () => {
      if (!request.closed) request.close(stream.rstCode || constants.NGHTTP2_CANCEL);
    });
    stream.pipe(request);
  });
  server.on('tlsClientError', () => undefined); // a caller without a valid certificate is refused at the handshake

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    async close() {
      for (const s of sessions) s.destroy();
      upstream?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
