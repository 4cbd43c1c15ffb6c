import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { httpRequest, processAlive, writePrivateFile, type MeshFile } from '../../mesh/index.js';
import { certPaths, issueCertificates, prepareMeshFiles } from './mesh-files.js';
import { CLI_CLIENT, planMesh, type MeshPlan, type PlannedService, type ServiceKind } from './mesh-plan.js';
import { Supervisor, type SupervisorEvent } from './supervisor.js';

export type { MeshFile };

/** Options of the launcher. */
export interface LaunchOptions {
  root: string;
  /** Default: <root>/.agentmesh (AGENTMESH_HOME). */
  home?: string;
  /** Default: derived from the checkout path (AGENTMESH_BASE_PORT). */
  basePort?: number;
  /** Extra environment for every service (e.g. OPENAI_* for the agents). */
  env?: Record<string, string>;
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

function serviceEnv(plan: MeshPlan, s: PlannedService, extra: Record<string, string>): Record<string, string> {
  const auth = plan.services.find((x) => x.kind === 'auth')!;
  const registry = plan.services.find((x) => x.kind === 'registry');
  const tls = certPaths(plan, s.name);
  const env: Record<string, string> = {
    ...extra,
    AGENTMESH_SERVICE: s.name,
    AGENTMESH_HOST: '127.0.0.1',
    AGENTMESH_PORT: String(s.port),
    AGENTMESH_TLS_CERT: tls.cert,
    AGENTMESH_TLS_KEY: tls.key,
    AGENTMESH_TLS_CA: tls.ca,
    AGENTMESH_TRUST_DOMAIN: plan.trustDomain,
    AGENTMESH_SECRETS: 'file',
    AGENTMESH_SECRETS_FILE: join(plan.home, 'secrets.json'),
    AGENTMESH_DATA_DIR: join(plan.home, 'data', fileName(s.name)),
    AGENTMESH_SHUTDOWN_GRACE_MS: '5000',
  };
  if (s.kind === 'auth') {
    env.AGENTMESH_AUTH_CLIENTS_FILE = join(plan.home, 'clients.json');
    env.AGENTMESH_AUTH_USERS_FILE = join(plan.root, 'services', 'auth', 'users.json');
  } else {
    env.AGENTMESH_ADMIN_PORT = String(s.adminPort);
    env.AGENTMESH_OAUTH_ISSUER = `https://127.0.0.1:${auth.port}`;
    env.AGENTMESH_TRACE_FILE = join(plan.home, 'traces', `${fileName(s.name)}.jsonl`);
  }
  if (registry && s.kind !== 'registry') env.AGENTMESH_REGISTRY_ADDRESS = `127.0.0.1:${registry.port}`;
  if (s.kind === 'console') env.AGENTMESH_CONSOLE_MESH_FILE = join(plan.home, 'mesh.json');
  return env;
}

function readiness(plan: MeshPlan, s: PlannedService, ca: string): () => Promise<boolean> {
  if (s.kind === 'auth') {
    return async () =>
      (
        await httpRequest(`https://127.0.0.1:${s.port}/.well-known/oauth-authorization-server`, {
          ca,
          timeoutMs: 1_000,
        })
      ).status === 200;
  }
  return async () => (await httpRequest(`http://127.0.0.1:${s.adminPort}/readyz`, { timeoutMs: 1_000 })).status === 200;
}

/**
 * Brings the local mesh up: dev CA and certificates, secrets and client
 * registrations, then every service as its own process in order, each ready
 * before the next; writes mesh.json last. Refuses to start over a running
 * mesh or on ports in use.
 */
export async function launchMesh(options: LaunchOptions): Promise<RunningMesh> {
  const plan = planMesh(options.root, { basePort: options.basePort });
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
  const ports = plan.services.flatMap((s) => [s.port, ...(s.adminPort ? [s.adminPort] : [])]);
  for (const port of ports) {
    if (!(await portFree(port)))
      throw new Error(
        `port ${port} is in use: another program (or checkout) holds the block ${plan.basePort}-${plan.basePort + 99}; set AGENTMESH_BASE_PORT to another multiple of 100`,
      );
  }
  const { ca, cliSecret } = await prepareMeshFiles(plan);
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
    for (const level of LEVELS) {
      options.signal?.throwIfAborted();
      await Promise.all(
        plan.services
          .filter((s) => s.kind === level)
          .map((s) =>
            supervisor.start(
              {
                name: s.name,
                entry: s.entry,
                env: serviceEnv(plan, s, options.env ?? {}),
                logFile: join(plan.home, 'logs', `${fileName(s.name)}.log`),
                ready: readiness(plan, s, caPem),
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
    services: plan.services.map((s) => ({
      name: s.name,
      kind: s.kind,
      address: `127.0.0.1:${s.port}`,
      admin: s.adminPort ? `127.0.0.1:${s.adminPort}` : undefined,
      spiffeId: s.spiffeId,
      log: join(plan.home, 'logs', `${fileName(s.name)}.log`),
      trace: s.kind === 'auth' ? undefined : join(plan.home, 'traces', `${fileName(s.name)}.jsonl`),
    })),
    ...(web ? { console: `https://127.0.0.1:${web.port}/` } : {}),
    client: { clientId: CLI_CLIENT, clientSecret: cliSecret, cert: cli.cert, key: cli.key },
  };
  writePrivateFile(meshFile, `${JSON.stringify(file, null, 2)}\n`);
  return { plan, file, supervisor, failed, stop };
}
