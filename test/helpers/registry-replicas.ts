import { join } from 'node:path';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import type { MeshClient } from '../../mesh/index.js';
import { TokenClient, Transport } from '../../mesh/security/index.js';
import { ChildService } from '../../mesh/testing/child-service.js';
import { freePorts, serviceEnv, startAuth, type AuthProcess } from '../../mesh/testing/core-services.js';
import { agentClient, MeshHome } from '../../mesh/testing/mesh-home.js';
import { serviceEntry } from '../../mesh/testing/service-entry.js';
import { testClient } from '../../mesh/testing/test-client.js';
import { TRUST_DOMAIN } from './pki.js';

/** One registry replica: its own OS process and log file. */
export interface RegistryReplica {
  process: ChildService;
  address: string;
  logFile: string;
}

/** Several registry processes over one store, with the authorization server they trust. */
export interface RegistryReplicas {
  replicas: RegistryReplica[];
  /** A RegistryService client of one replica, calling as workload `name` (its certificate, its token). */
  clientAs(name: string, replica: RegistryReplica): Promise<MeshClient<typeof RegistryServiceService>>;
  /** Starts one more replica; resolves once it serves. */
  addReplica(): Promise<RegistryReplica>;
  stop(): Promise<void>;
}

/**
 * Starts an authorization server and `count` registry processes sharing `env` (a
 * DATABASE_URL for one PostgreSQL database), one after another so each is known to
 * serve before the next starts. `workloads` get OAuth2 clients that may register, `admins`
 * ones that may also administer the registry.
 */
export async function startRegistryReplicas(
  count: number,
  env: Record<string, string>,
  workloads: string[],
  /** Workloads whose clients also hold the registry's admin scope. */
  admins: string[] = [],
): Promise<RegistryReplicas> {
  const home = await MeshHome.create(TRUST_DOMAIN);
  const started: ChildService[] = [];
  const closers: (() => void)[] = [];
  let auth: Promise<AuthProcess> | undefined;
  const stop = async () => {
    for (const close of closers) close();
    for (const service of started) await service.stop().catch(() => undefined);
    await auth?.then((a) => a.process.stop()).catch(() => undefined);
    home.remove();
  };
  try {
    home.addClient({ client_id: 'agentmesh/registry', scopes: [], audiences: [] });
    const clientOf = (w: string) => {
      const c = agentClient(w);
      return admins.includes(w) ? { ...c, scopes: [...c.scopes, 'registry.admin'] } : c;
    };
    const secrets = new Map([...workloads, ...admins].map((w) => [w, home.addClient(clientOf(w)).secret]));
    const ports = await freePorts(count + 1);
    const [authPort, ...registryPorts] = ports as [number, ...number[]];
    const issuer = `https://127.0.0.1:${authPort}`;
    const replicas: RegistryReplica[] = [];
    // The authorization server starts beside the registries (it asks the first one about suspended agents).
    auth = startAuth(home, authPort, `127.0.0.1:${registryPorts[0]}`, {});
    auth.catch(() => undefined);
    // Ports of the first replicas were chosen with the authorization server's; later ones bind any free port.
    const startReplica = async (port = 0) => {
      const i = replicas.length;
      const logFile = join(home.dir, 'logs', `agentmesh-registry-${i}.log`);
      const child = new ChildService({
        name: `agentmesh/registry#${i}`,
        entry: serviceEntry('registry'),
        env: {
          ...(await serviceEnv(home, 'agentmesh/registry')),
          ...env,
          AGENTMESH_PORT: String(port),
          AGENTMESH_OAUTH_ISSUER: issuer,
          AGENTMESH_OAUTH_JWKS_URL: `${issuer}/oauth2/jwks`,
          AGENTMESH_OAUTH_TOKEN_URL: `${issuer}/oauth2/token`,
        },
        logFile,
      });
      started.push(child);
      const ready = await child.waitForLog('service started');
      const replica = { process: child, address: String(ready.address), logFile };
      replicas.push(replica);
      return replica;
    };
    for (const port of registryPorts) await startReplica(port);
    await auth;
    const clientAs = async (name: string, replica: RegistryReplica) => {
      const tls = await home.issue(name);
      const transport = new Transport({
        mode: 'mtls',
        trustDomain: TRUST_DOMAIN,
        tls: { certFile: tls.cert, keyFile: tls.key, caFile: tls.ca },
      });
      const tokens = new TokenClient({
        tokenUrl: `${issuer}/oauth2/token`,
        clientId: name,
        auth: { method: 'client_secret_basic', secret: secrets.get(name)! },
        ca: home.caPem,
      });
      const client = testClient(
        { transport, tokens, trustDomain: TRUST_DOMAIN },
        RegistryServiceService,
        'agentmesh/registry',
        replica.address,
        {},
      );
      closers.push(() => {
        client.close();
        transport.close();
      });
      return client;
    };
    return { replicas, clientAs, addReplica: () => startReplica(), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
