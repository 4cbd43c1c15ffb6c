import { createServer, type AddressInfo, type Server } from 'node:net';
import { ChildService } from './child-service.js';
import type { MeshHome } from './mesh-home.js';
import { serviceEntry } from './service-entry.js';

/** The environment every service process of a test mesh gets: identity, secrets, data, logs. */
export async function serviceEnv(home: MeshHome, service: string): Promise<Record<string, string>> {
  const tls = await home.issue(service);
  return {
    AGENTMESH_SERVICE: service,
    AGENTMESH_HOST: '127.0.0.1',
    AGENTMESH_PORT: '0',
    AGENTMESH_ADMIN_PORT: '0',
    AGENTMESH_TLS_CERT: tls.cert,
    AGENTMESH_TLS_KEY: tls.key,
    AGENTMESH_TLS_CA: tls.ca,
    AGENTMESH_TRUST_DOMAIN: home.trustDomain,
    AGENTMESH_SECRETS: 'file',
    AGENTMESH_SECRETS_FILE: home.secretsFile,
    AGENTMESH_DATA_DIR: home.dataDir(service),
    AGENTMESH_LOG_LEVEL: 'info',
    AGENTMESH_SHUTDOWN_GRACE_MS: '5000',
  };
}

/** Distinct free loopback ports (all held until each is known), for addresses services need before they run. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer().once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The running authorization server: its process, issuer and port. */
export interface AuthProcess {
  process: ChildService;
  issuer: string;
  port: number;
}

/**
 * Starts the authorization server (services/auth) on `port` (0: any), with the
 * home's clients and secrets; asks `registryAddress` whether agents are
 * suspended. Resolves once it listens.
 */
export async function startAuth(
  home: MeshHome,
  port: number,
  registryAddress: string,
  extra: Record<string, string>,
): Promise<AuthProcess> {
  const name = 'agentmesh/auth';
  const child = new ChildService({
    name,
    entry: serviceEntry('auth'),
    env: {
      ...(await serviceEnv(home, name)),
      AGENTMESH_PORT: String(port),
      AGENTMESH_AUTH_CLIENTS_FILE: home.clientsFile,
      AGENTMESH_REGISTRY_ADDRESS: registryAddress,
      ...extra,
    },
    logFile: home.logFile(name),
  });
  const listening = await child.waitForLog('authorization server listening');
  return { process: child, issuer: String(listening.issuer), port: Number(listening.port) };
}

/**
 * Starts the registry (services/registry) on `port`; resolves once it serves.
 * Its token endpoints are given rather than read from the issuer's metadata,
 * so it can start while the authorization server does.
 */
export async function startRegistry(
  home: MeshHome,
  port: number,
  issuer: string,
  extra: Record<string, string>,
): Promise<{ process: ChildService; address: string; admin: string }> {
  const name = 'agentmesh/registry';
  const child = new ChildService({
    name,
    entry: serviceEntry('registry'),
    env: {
      ...(await serviceEnv(home, name)),
      AGENTMESH_PORT: String(port),
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_OAUTH_JWKS_URL: `${issuer}/oauth2/jwks`,
      AGENTMESH_OAUTH_TOKEN_URL: `${issuer}/oauth2/token`,
      // Test meshes run on one machine: their partners' MCP servers listen on 127.0.0.1.
      AGENTMESH_REGISTRY_ALLOW_LOOPBACK_MCP: 'true',
      ...extra,
    },
    logFile: home.logFile(name),
  });
  const started = await child.waitForLog('service started');
  return { process: child, address: String(started.address), admin: String(started.admin) };
}
