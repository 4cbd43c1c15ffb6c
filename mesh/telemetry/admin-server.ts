import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MeshMetrics } from './metrics.js';

/** What the admin server asks about readiness. */
export interface Readiness {
  /** True when the gRPC health status is SERVING and startup work is done. */
  ready(): boolean;
}

/** What the admin server asks about liveness. */
export interface Liveness {
  /** False once the service is broken beyond repair (its store failed closed): only a restart helps. */
  live(): boolean;
}

/** A running admin HTTP server. */
export interface AdminServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The admin HTTP port of a service: /metrics (Prometheus text), /livez
 * (the process answers and is not broken: 503 asks the orchestrator for a restart)
 * and /readyz (ready to take traffic). Bound to
 * loopback by default: in Kubernetes the probes and scrapes come through the
 * pod's own network namespace.
 */
export async function startAdminServer(options: {
  host: string;
  port: number;
  metrics: MeshMetrics;
  readiness: Readiness;
  /** Live unless it says otherwise (default: always live while the process answers). */
  liveness?: Liveness;
}): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      options.metrics
        .text()
        .then((text) => res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
      return;
    }
    if (path === '/livez') {
      const live = options.liveness?.live() ?? true;
      res.writeHead(live ? 200 : 503, { 'content-type': 'text/plain' }).end(live ? 'ok\n' : 'broken\n');
      return;
    }
    if (path === '/readyz') {
      const ready = options.readiness.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `${options.host}:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
