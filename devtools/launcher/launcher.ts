import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  AGENT_CARD_PATH,
  MCP_PATH,
  httpRequest,
  processAlive,
  writePrivateFile,
  type MeshFile,
  type PeopleIssuer,
} from '../../mesh/index.js';
import { certPaths, issueCertificates, prepareMeshFiles } from './mesh-files.js';
import {
  CLI_CLIENT,
  planMesh,
  type MeshPlan,
  type PlannedInstance,
  type PlannedService,
  type ServiceKind,
} from './mesh-plan.js';
import { writeConsolePeopleFile, writePeopleTrustFile } from './people-issuer.js';
import { Supervisor, type SupervisorEvent } from './supervisor.js';

export type { MeshFile, PeopleIssuer };

/** Options of the launcher. */
export interface LaunchOptions {
  root: string;
  /** Default: <root>/.agentmesh (AGENTMESH_HOME). */
  home?: string;
  /** Default: derived from the checkout path (AGENTMESH_BASE_PORT). */
  basePort?: number;
  /** Processes per service name (overrides services/local-mesh.json `replicas`); more than one needs `database`. */
  replicas?: Record<string, number>;
  /** PostgreSQL URL for every stateful service (overrides services/local-mesh.json `database`). */
  database?: string;
  /** services/local-mesh.json unless given (tests run a smaller mesh). */
  manifest?: string;
  /** An external issuer people log in at (AGENTMESH_PEOPLE_*): every service trusts it besides the mesh's own. */
  people?: PeopleIssuer;
  /** Extra environment for every service (e.g. OPENAI_* for the agents). */
  env?: Record<string, string>;
  /** Node flags for every service process (AGENTMESH_SERVICE_NODE_ARGS, checked by parseServiceNodeArgs). */
  nodeArgs?: string[];
  onEvent?: (e: SupervisorEvent) => void;
  /** Aborting it while the mesh starts stops what was started, and launchMesh rejects with the reason. */
  signal?: AbortSignal;
}

/** A running local mesh. */
export interface RunningMesh {
  plan: MeshPlan;
  file: MeshFile;
  supervisor: Supervisor;
  /** Resolves when a service gave up (configuration error): the mesh cannot work. */
  failed: Promise<string>;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const LEVELS: ServiceKind[] = ['auth', 'registry', 'tool', 'agent', 'console'];

const fileName = (name: string) => name.replace('/', '-');
/** Files of a replica: the first keeps the service's own names (what single-replica readers know), the others add `.<n>`. */
const instanceFile = (s: PlannedService, i: PlannedInstance) =>
  i.index === 1 ? fileName(s.name) : `${fileName(s.name)}.${i.index}`;
/** Kinds that keep state in a store: with a database they share it (one schema per service, every replica in it). */
const STATEFUL: ServiceKind[] = ['registry', 'tool', 'agent'];

function serviceEnv(
  plan: MeshPlan,
  s: PlannedService,
  i: PlannedInstance,
  extra: Record<string, string>,
): Record<string, string> {
  const auth = plan.services.find((x) => x.kind === 'auth')!;
  const registry = plan.services.find((x) => x.kind === 'registry');
  const tls = certPaths(plan, s.name);
  const env: Record<string, string> = {
    ...extra,
    AGENTMESH_SERVICE: s.name,
    AGENTMESH_HOST: '127.0.0.1',
    AGENTMESH_PORT: String(i.port),
    AGENTMESH_TLS_CERT: tls.cert,
    AGENTMESH_TLS_KEY: tls.key,
    AGENTMESH_TLS_CA: tls.ca,
    AGENTMESH_TRUST_DOMAIN: plan.trustDomain,
    AGENTMESH_SECRETS: 'file',
    AGENTMESH_SECRETS_FILE: join(plan.home, 'secrets.json'),
    AGENTMESH_DATA_DIR: join(plan.home, 'data', instanceFile(s, i)),
    AGENTMESH_SHUTDOWN_GRACE_MS: '5000',
  };
  if (s.kind === 'auth') {
    env.AGENTMESH_AUTH_CLIENTS_FILE = join(plan.home, 'clients.json');
    env.AGENTMESH_AUTH_USERS_FILE = join(plan.root, 'services', 'auth', 'users.json');
  } else {
    env.AGENTMESH_ADMIN_PORT = String(i.adminPort);
    env.AGENTMESH_OAUTH_ISSUER = `https://127.0.0.1:${auth.port}`;
    env.AGENTMESH_TRACE_FILE = join(plan.home, 'traces', `${instanceFile(s, i)}.jsonl`);
  }
  if (i.cardPort) env.AGENTMESH_A2A_CARD_PORT = String(i.cardPort);
  if (i.mcpPort) env.AGENTMESH_MCP_PORT = String(i.mcpPort);
  if (registry && s.kind !== 'registry') env.AGENTMESH_REGISTRY_ADDRESS = addressesOf(registry).join(',');
  if (plan.database && STATEFUL.includes(s.kind)) env.DATABASE_URL = plan.database;
  // A local mesh: MCP servers on this machine (127.0.0.1) may be registered.
  if (s.kind === 'registry') env.AGENTMESH_REGISTRY_ALLOW_LOOPBACK_MCP = 'true';
  if (s.kind === 'console') env.AGENTMESH_CONSOLE_MESH_FILE = join(plan.home, 'mesh.json');
  return env;
}

const addressesOf = (s: PlannedService) => s.instances.map((i) => `127.0.0.1:${i.port}`);

function readiness(s: PlannedService, i: PlannedInstance, ca: string): () => Promise<boolean> {
  if (s.kind === 'auth') {
    return async () =>
      (
        await httpRequest(`https://127.0.0.1:${i.port}/.well-known/oauth-authorization-server`, {
          ca,
          timeoutMs: 1_000,
        })
      ).status === 200;
  }
  return async () => (await httpRequest(`http://127.0.0.1:${i.adminPort}/readyz`, { timeoutMs: 1_000 })).status === 200;
}

/**
 * Brings the local mesh up: dev CA and certificates, secrets and client
 * registrations, then every service as its own process in order, each ready
 * before the next; writes mesh.json last. Refuses to start over a running
 * mesh or on ports in use.
 */
export async function launchMesh(options: LaunchOptions): Promise<RunningMesh> {
  const plan = planMesh(options.root, {
    basePort: options.basePort,
    replicas: options.replicas,
    database: options.database,
    manifest: options.manifest,
  });
  if (options.home) plan.home = options.home;
  const meshFile = join(plan.home, 'mesh.json');
  if (existsSync(meshFile)) {
    const previous = JSON.parse(readFileSync(meshFile, 'utf8')) as Partial<MeshFile>;
    if (previous.launcherPid && previous.launcherPid !== process.pid && processAlive(previous.launcherPid)) {
      throw new Error(
        `a mesh is already running from this folder (launcher pid ${previous.launcherPid}); stop it first`,
      );
    }
    rmSync(meshFile);
  }
  const ports = plan.services.flatMap((s) =>
    s.instances.flatMap((i) => [
      i.port,
      ...(i.adminPort ? [i.adminPort] : []),
      ...(i.cardPort ? [i.cardPort] : []),
      ...(i.mcpPort ? [i.mcpPort] : []),
    ]),
  );
  for (const port of ports) {
    if (!(await portFree(port)))
      throw new Error(
        `port ${port} is in use: another program (or checkout) holds the block ${plan.basePort}-${plan.basePort + 99}; set AGENTMESH_BASE_PORT to another multiple of 100`,
      );
  }
  // People log in at the external issuer: no client may name a person itself (the dev login), or
  // a dev-login "ada" would be the same subject as the issuer's ada.
  if (options.people) for (const c of plan.clients) c.impersonation = false;
  const { ca, cliSecret } = await prepareMeshFiles(plan);
  // People's tokens come from the external issuer: every service, the auth server included (it takes them
  // as subject tokens in token exchange), trusts it through the same trust file.
  const env = { ...options.env };
  if (options.people) env.AGENTMESH_OAUTH_TRUST_FILE = writePeopleTrustFile(plan.home, options.people);
  const consolePeople = options.people ? writeConsolePeopleFile(plan, options.people) : undefined;
  const caFile = join(plan.home, 'certs', 'ca.crt');
  const caPem = readFileSync(caFile, 'utf8');
  let giveUp: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => (giveUp = resolve));
  const supervisor = new Supervisor(plan.root, (e) => {
    options.onEvent?.(e);
    if (e.type === 'gave-up') giveUp(`${e.name}: ${e.reason}`);
  });
  // Certificates live 24 h: re-issue every 12 h, the services reload them without a restart.
  const renew = setInterval(() => void issueCertificates(plan, ca), 12 * 3_600_000).unref();
  const stop = async () => {
    clearInterval(renew);
    rmSync(meshFile, { force: true });
    await supervisor.stop();
  };
  try {
    // Dependency order by kind; services of one kind do not need each other to start (agents find
    // collaborators when they plan), so each level starts at once and must be ready before the next.
    // Further replicas start once the first is ready: it has created the schema they share.
    for (const [level, wave] of LEVELS.flatMap((l) => [[l, 'first'] as const, [l, 'more'] as const])) {
      options.signal?.throwIfAborted();
      await Promise.all(
        plan.services
          .filter((s) => s.kind === level)
          .flatMap((s) => s.instances.map((i) => ({ s, i })))
          .filter(({ i }) => (wave === 'first') === (i.index === 1))
          .map(({ s, i }) =>
            supervisor.start(
              {
                name: i.label,
                entry: s.entry,
                env: serviceEnv(plan, s, i, {
                  ...env,
                  ...(s.kind === 'console' && consolePeople ? { AGENTMESH_CONSOLE_PEOPLE_FILE: consolePeople } : {}),
                }),
                nodeArgs: options.nodeArgs,
                logFile: join(plan.home, 'logs', `${instanceFile(s, i)}.log`),
                ready: readiness(s, i, caPem),
              },
              undefined,
              options.signal,
            ),
          ),
      );
    }
    options.signal?.throwIfAborted();
  } catch (err) {
    await stop();
    throw err;
  }
  const auth = plan.services.find((s) => s.kind === 'auth')!;
  const cli = certPaths(plan, CLI_CLIENT);
  const web = plan.services.find((s) => s.kind === 'console');
  const file: MeshFile = {
    version: 1,
    startedAt: new Date().toISOString(),
    launcherPid: process.pid,
    trustDomain: plan.trustDomain,
    basePort: plan.basePort,
    ca: caFile,
    issuer: `https://127.0.0.1:${auth.port}`,
    tokenUrl: `https://127.0.0.1:${auth.port}/oauth2/token`,
    services: plan.services.map((s) => {
      const replicas = s.instances.map((i) => ({
        name: i.label,
        address: `127.0.0.1:${i.port}`,
        admin: i.adminPort ? `127.0.0.1:${i.adminPort}` : undefined,
        ...(i.cardPort ? { a2aCard: `https://127.0.0.1:${i.cardPort}${AGENT_CARD_PATH}` } : {}),
        ...(i.mcpPort ? { mcp: `https://127.0.0.1:${i.mcpPort}${MCP_PATH}` } : {}),
        log: join(plan.home, 'logs', `${instanceFile(s, i)}.log`),
        trace: s.kind === 'auth' ? undefined : join(plan.home, 'traces', `${instanceFile(s, i)}.jsonl`),
      }));
      // The first replica's fields stay where readers of one-process meshes look for them.
      const { name: _label, ...first } = replicas[0]!;
      return {
        name: s.name,
        kind: s.kind,
        ...first,
        addresses: replicas.map((r) => r.address),
        replicas,
        spiffeId: s.spiffeId,
      };
    }),
    ...(web ? { console: `https://127.0.0.1:${web.port}/` } : {}),
    client: { clientId: CLI_CLIENT, clientSecret: cliSecret, cert: cli.cert, key: cli.key },
    ...(options.people ? { people: options.people } : {}),
  };
  writePrivateFile(meshFile, `${JSON.stringify(file, null, 2)}\n`);
  return { plan, file, supervisor, failed, stop };
}
