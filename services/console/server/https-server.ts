import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CertificateFiles } from '../../../mesh/index.js';

/** A running HTTPS server. */
export interface HttpsServer {
  port: number;
  /** Stops accepting, ends open connections (server-sent event streams included). */
  close(): Promise<void>;
}

/**
 * An HTTPS server with the workload's certificate from the mesh CA (valid
 * for localhost and 127.0.0.1), serving a rotated certificate to new
 * connections without a restart. TLS 1.2 at least.
 */
export async function startHttpsServer(options: {
  host: string;
  port: number;
  tls: CertificateFiles;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<HttpsServer> {
  const { tls } = options;
  const server: Server = createServer(
    { cert: tls.certificatePem, key: tls.privateKeyPem, minVersion: 'TLSv1.2' },
    options.handler,
  );
  tls.addIdentityCertificateListener((update) => {
    if (update) server.setSecureContext({ cert: update.certificate, key: update.privateKey, minVersion: 'TLSv1.2' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
