import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { createClient, type MeshClient } from '../../mesh/index.js';
import { createServer, type MeshServer, type ServiceDefinition } from '../../mesh/index.js';
import type { Logger } from '../../mesh/index.js';
import { captureLogger } from './log-capture.js';

/** A server started on 127.0.0.1:0 for one test. */
export interface StartedServer {
  server: MeshServer;
  address: string;
  port: number;
  /** Graceful shutdown with a short grace period. */
  stop(): Promise<void>;
}

/**
 * Starts a kernel server on a free loopback port. Tests in this file run
 * before the security layer exists in the server under test, so they choose
 * plaintext explicitly.
 */
export async function startServer(
  configure: (server: MeshServer) => void,
  log: Logger = captureLogger().log,
): Promise<StartedServer> {
  const server = createServer({ logger: log });
  configure(server);
  const port = await server.listen('127.0.0.1:0', ServerCredentials.createInsecure());
  return { server, port, address: `127.0.0.1:${port}`, stop: () => server.shutdown({ graceMs: 1_000 }) };
}

/** A plaintext typed client for a test server; close it in afterEach/afterAll. */
export function plaintextClient<S extends ServiceDefinition>(definition: S, address: string): MeshClient<S> {
  return createClient(definition, address, { credentials: credentials.createInsecure() });
}
