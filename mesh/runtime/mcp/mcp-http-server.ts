import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { parseSpiffeId, spiffeUrisOf, type CertificateFiles, type Transport } from '../../security/index.js';
import type { McpClientCertMode } from './mcp-settings.js';

/** Where and how the MCP port listens. */
export interface HttpPortOptions {
  host: string;
  port: number;
  /** Its mode decides HTTPS with client certificates (mtls) or plain HTTP (istio, insecure). */
  transport: Transport;
  clientCert: McpClientCertMode;
  log: Logger;
}

/** A listening MCP port. */
export interface HttpPort {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /**
   * Stops accepting connections, ends idle ones, lets requests in progress
   * answer, and cuts whatever is still open after `graceMs` (default 10 000).
   */
  close(graceMs?: number): Promise<void>;
}

/** TLS settings from the current certificate files; a client certificate of the mesh CA asked for, and required unless optional. */
const tlsOptions = (files: CertificateFiles, clientCert: McpClientCertMode): ServerOptions => ({
  cert: files.certificatePem,
  key: files.privateKeyPem,
  ca: files.caPem,
  requestCert: true,
  rejectUnauthorized: clientCert === 'required',
  minVersion: 'TLSv1.2',
});

/**
 * HTTPS as the gRPC port in mtls mode: the workload certificate (rotated
 * certificates and CAs served to new connections without a restart), a client
 * certificate of the mesh CA whose SPIFFE ID is of the mesh's trust domain.
 * In `optional` mode a caller presenting no certificate is let in (without a
 * workload identity); one presenting a certificate that fails those checks is
 * still cut off, as a forged or foreign identity is no anonymous caller.
 */
function mtlsServer(o: HttpPortOptions, files: CertificateFiles, listener: RequestListener) {
  const server = createHttpsServer(tlsOptions(files, o.clientCert), listener);
  server.on('secureConnection', (socket: TLSSocket) => {
    const cert = socket.getPeerCertificate();
    const presented = cert && Object.keys(cert).length > 0;
    if (!presented && o.clientCert === 'optional') return;
    const ids = spiffeUrisOf(cert);
    const id = ids.length === 1 ? parseSpiffeId(ids[0]!) : undefined;
    if (socket.authorized && id?.trustDomain === o.transport.options.trustDomain) return;
    o.log.warn({ peer: ids.join(',') || '(no SPIFFE ID)' }, 'mcp: client certificate refused');
    socket.destroy();
  });
  const reload = () => server.setSecureContext(tlsOptions(files, o.clientCert));
  const onUpdate = (update: unknown) => update && reload();
  files.addIdentityCertificateListener(onUpdate);
  files.addCaCertificateListener(onUpdate);
  const stop = () => {
    files.removeIdentityCertificateListener(onUpdate);
    files.removeCaCertificateListener(onUpdate);
  };
  return { server, stop };
}

/** Binds the MCP port: HTTPS with mutual TLS in mtls mode, plain HTTP behind Istio's sidecar or in insecure mode. */
export async function listenHttpPort(o: HttpPortOptions, listener: RequestListener): Promise<HttpPort> {
  const files = o.transport.mode === 'mtls' ? o.transport.certificateFiles : undefined;
  if (o.transport.mode === 'mtls' && !files) throw new Error('mtls transport without certificate files');
  // Requests in progress, so close() can let them answer and end each keep-alive connection once idle.
  let open = 0;
  let closing = false;
  const counted: RequestListener = (req, res) => {
    open++;
    res.once('close', () => {
      open--;
      if (closing) server.closeIdleConnections();
    });
    listener(req, res);
  };
  const { server, stop }: { server: Server; stop: () => void } = files
    ? mtlsServer(o, files, counted)
    : { server: createHttpServer(counted), stop: () => undefined };
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
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        stop();
        closing = true;
        const cut = setTimeout(() => server.closeAllConnections(), graceMs).unref();
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        if (open === 0) server.closeAllConnections();
        else server.closeIdleConnections();
      }),
  };
}
