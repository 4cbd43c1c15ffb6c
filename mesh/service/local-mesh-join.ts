import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ConfigError, processAlive, writePrivateFile, type MeshFile } from '../config/index.js';
import { issueWorkloadCert, loadCa, loadPolicy, spiffeIdOfService, TokenClient } from '../security/index.js';
import { checkNoConflicts, completeEnv, reasonNotToJoin } from './local-mesh-env.js';
import {
  addToMeshFile,
  meshConflict,
  registerLocalClient,
  removeFromMeshFile,
  removeLocalClient,
} from './local-mesh-files.js';

/** What joinLocalMesh did: where the service will listen and where its files are. */
export interface LocalMeshMembership {
  service: string;
  /** host:port it is listed under in mesh.json (AGENTMESH_PORT). */
  address: string;
  /** The running mesh's folder (AGENTMESH_HOME). */
  home: string;
  /** This service's certificate, key, secrets and data under the mesh folder. */
  dir: string;
}

/** Options of joinLocalMesh. */
export interface JoinOptions {
  kind?: 'agent' | 'tool';
  /** The service's policy (default: AGENTMESH_POLICY_FILE): who may call it. */
  policyFile?: string;
  /** The environment read and completed (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the authorization server to accept the new client (default 15 s). */
  timeoutMs?: number;
  /** Where the one line saying why it does not join goes (default: stderr). */
  log?: (line: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function readMeshFile(home: string): MeshFile {
  const file = join(home, 'mesh.json');
  if (!existsSync(file))
    throw new ConfigError('AGENTMESH_HOME', `names no running local mesh (${file} does not exist: npm start first)`);
  const mesh = JSON.parse(readFileSync(file, 'utf8')) as MeshFile;
  if (!processAlive(mesh.launcherPid))
    throw new ConfigError(
      'AGENTMESH_HOME',
      `names a mesh that is not running (launcher pid ${mesh.launcherPid} is gone)`,
    );
  return mesh;
}

/** Asks for a token until the authorization server has reloaded its clients and accepts this one. */
async function awaitClientAccepted(tokens: TokenClient, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await tokens.getToken('agentmesh/registry', ['registry.read']);
      return;
    } catch (err) {
      if (Date.now() > until)
        throw new Error(
          `the local mesh's authorization server did not accept ${tokens.options.clientId}: ${String(err)}`,
          { cause: err },
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Local development only: when AGENTMESH_HOME names a running local mesh
 * (`npm start` of an agentmesh checkout), makes this process a member of it
 * before runAgent / runToolService read their configuration: a workload
 * certificate from the mesh's dev CA, an OAuth2 client with a private-key JWT
 * registered in the mesh's clients.json (the auth server reloads it), the
 * registry and issuer, a free port, and an entry in mesh.json so `agentmesh
 * task` finds it (both removed at exit). Without AGENTMESH_HOME, on a platform
 * (AGENTMESH_TRANSPORT other than mtls, Kubernetes, NODE_ENV=production) or
 * when configured already (AGENTMESH_TLS_CERT) it does nothing and returns
 * undefined. It only completes the environment: a variable it needs that is
 * set to something else stops it with one line naming the variable.
 */
export async function joinLocalMesh(
  service: string,
  options: JoinOptions = {},
): Promise<LocalMeshMembership | undefined> {
  const env = options.env ?? process.env;
  const home = env.AGENTMESH_HOME;
  if (!home) return undefined;
  const reason = reasonNotToJoin(env);
  if (reason) {
    (options.log ?? ((line) => process.stderr.write(`${line}\n`)))(
      `agentmesh: not joining the local mesh in AGENTMESH_HOME (${home}): ${reason}`,
    );
    return undefined;
  }
  const mesh = readMeshFile(home);
  const policyFile = options.policyFile ?? env.AGENTMESH_POLICY_FILE;
  if (!policyFile) throw new ConfigError('AGENTMESH_POLICY_FILE', 'is required to join a local mesh');
  const policy = loadPolicy(policyFile, mesh.trustDomain);
  const registry = mesh.services.find((s) => s.kind === 'registry');
  if (!registry) throw new ConfigError('AGENTMESH_HOME', 'names a mesh without a registry');
  const conflict = meshConflict(mesh.services, service);
  if (conflict) throw new Error(`cannot join the local mesh: ${conflict}`);

  const dir = join(home, 'joined', service.replace('/', '-'));
  const secretPath = `agentmesh/clients/${service}`;
  const secretsFile = join(dir, 'secrets.json');
  const port = env.AGENTMESH_PORT ?? String(await freePort());
  const wanted: Record<string, string> = {
    AGENTMESH_SERVICE: service,
    AGENTMESH_HOST: '127.0.0.1',
    AGENTMESH_PORT: port,
    AGENTMESH_TLS_CERT: join(dir, 'tls.crt'),
    AGENTMESH_TLS_KEY: join(dir, 'tls.key'),
    AGENTMESH_TLS_CA: mesh.ca,
    AGENTMESH_TRUST_DOMAIN: mesh.trustDomain,
    AGENTMESH_POLICY_FILE: policyFile,
    AGENTMESH_SECRETS: 'file',
    AGENTMESH_SECRETS_FILE: secretsFile,
    AGENTMESH_OAUTH_ISSUER: mesh.issuer,
    AGENTMESH_OAUTH_CLIENT_AUTH: 'private_key_jwt',
    AGENTMESH_OAUTH_CLIENT_SECRET_PATH: secretPath,
    AGENTMESH_REGISTRY_ADDRESS: (registry.addresses ?? [registry.address]).join(','),
    AGENTMESH_DATA_DIR: env.AGENTMESH_DATA_DIR ?? join(dir, 'data'),
  };
  checkNoConflicts(env, wanted);

  // The client registration claims the name (under the lock) before this process writes any file
  // of joined/<ns>-<name>: a refused joiner never replaces the key of a running one.
  const clientsFile = join(home, 'clients.json');
  const meshFile = join(home, 'mesh.json');
  const kind = options.kind ?? 'agent';
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  registerLocalClient(clientsFile, mesh, { service, kind, publicKeyPem, policy, policyFile: resolve(policyFile) });
  const leave = () => {
    // The launcher may be removing the mesh files as this process exits: nothing left to clean then.
    for (const remove of [() => removeFromMeshFile(meshFile, service), () => removeLocalClient(clientsFile, service)])
      try {
        remove();
      } catch {
        /* the mesh is gone or stopping */
      }
  };
  try {
    mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
    const spiffeId = spiffeIdOfService(mesh.trustDomain, service);
    const ca = await loadCa(readFileSync(mesh.ca, 'utf8'), readFileSync(join(home, 'certs', 'ca.key'), 'utf8'));
    const pair = await issueWorkloadCert(ca, { spiffeId, commonName: service, hours: 24 });
    writePrivateFile(join(dir, 'tls.key'), pair.key);
    writePrivateFile(join(dir, 'tls.crt'), pair.cert);
    const privateKeyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writePrivateFile(secretsFile, `${JSON.stringify({ [secretPath]: { private_key: privateKeyPem } }, null, 2)}\n`);
    await awaitClientAccepted(
      new TokenClient({
        tokenUrl: mesh.tokenUrl,
        clientId: service,
        auth: { method: 'private_key_jwt', privateKeyPem },
        ca: readFileSync(mesh.ca, 'utf8'),
      }),
      options.timeoutMs ?? 15_000,
    );
    const address = `127.0.0.1:${port}`;
    const log = join(dir, 'service.log');
    addToMeshFile(meshFile, { name: service, kind, address, admin: undefined, spiffeId, log, trace: undefined });
    completeEnv(env, wanted);
    process.once('exit', leave);
    return { service, address, home, dir };
  } catch (err) {
    leave();
    throw err;
  }
}
