// The demo mesh as `npm start` runs it (the real launcher, every service its own process), for the
// benchmark modules that measure the demo's tasks end to end (scale-out, task): started in a private
// folder and port block, over the embedded SQLite stores or a private PostgreSQL database.
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState, type Task } from '../gen/agentmesh/v1/task.js';
import { MeshConnection } from '../devtools/cli/connection.js';
import { createClient, requestMessage, Transport, type MeshClient, type MeshReplica } from '../mesh/index.js';
import { pidsOf, startLocalMesh, type LocalMesh } from '../test/helpers/local-mesh.js';
import { postgresFixture, type BackendFixture } from '../test/helpers/state-backends.js';

/** The demo's orchestrator: its first example (~12 steps over 2 agents and 2 tool services) completes on its own. */
export const ORCHESTRATOR = 'lending/loan-orchestrator';

/** A client to the orchestrator. */
export type OrchestratorClient = MeshClient<typeof AgentServiceService>;

/** A running demo mesh and what the benchmarks need of it. */
export interface DemoMesh {
  local: LocalMesh;
  conn: MeshConnection;
  /** The orchestrator's schema in the private PostgreSQL database (postgres only). */
  db?: pg.Client;
  replicas: MeshReplica[];
  /** A client to the orchestrator as the user alice (balanced over its replicas). */
  client(): OrchestratorClient;
  /** Sends example 1 (with `requestId`, default a fresh one); blocking: throws unless it COMPLETED. */
  send(client: OrchestratorClient, blocking: boolean, requestId?: string): Promise<string>;
  /** Sends example 1 with `requestId` (idempotent: a repeated id answers with the same task) and returns the task. */
  request(client: OrchestratorClient, blocking: boolean, requestId: string): Promise<Task>;
  stop(): Promise<void>;
}

/** Starts the launcher with `replicas` orchestrator replicas over PostgreSQL, or the default SQLite stores. */
export async function startDemoMesh(options: {
  replicas?: number;
  postgres: boolean;
  env?: Record<string, string>;
  progress: (what: string) => void;
}): Promise<DemoMesh> {
  const replicas = options.replicas ?? 1;
  options.progress(
    `starting the demo mesh with ${replicas} orchestrator replica(s) over ${options.postgres ? 'PostgreSQL' : 'SQLite'}`,
  );
  const fx: BackendFixture | undefined = options.postgres ? await postgresFixture() : undefined;
  const home = mkdtempSync(join(tmpdir(), 'agentmesh-bench-demo-'));
  const args = replicas > 1 ? ['--replicas', `${ORCHESTRATOR}=${replicas}`] : [];
  if (fx) args.push('--database', fx.env.DATABASE_URL!);
  const local = await startLocalMesh(home, { args, env: options.env, timeoutMs: 240_000 });
  const conn = new MeshConnection('alice', { AGENTMESH_HOME: home });
  let db: pg.Client | undefined;
  if (fx) {
    db = new pg.Client({ connectionString: fx.env.DATABASE_URL, options: `-c search_path="${ORCHESTRATOR}"` });
    await db.connect();
  }
  const service = local.file.services.find((s) => s.name === ORCHESTRATOR)!;
  const client = () => conn.client(AgentServiceService, ORCHESTRATOR, 'user');
  const { card } = await client().getAgentCard({});
  const skill = card!.skills[0]!;
  const example = skill.examples[0]!;
  const mesh: DemoMesh = {
    local,
    conn,
    db,
    replicas: service.replicas ?? [],
    client,
    async request(c, blocking, requestId) {
      const { task } = await c.sendTask(
        {
          requestId,
          skillId: skill.id,
          message: requestMessage((example.input ?? {}) as Record<string, unknown>, example.text || undefined),
          configuration: { blocking, historyLength: 1, timeout: undefined },
        },
        { deadlineMs: 180_000 },
      );
      return task!;
    },
    async send(c, blocking, requestId = randomUUID()) {
      const task = await mesh.request(c, blocking, requestId);
      if (blocking && task.status?.state !== TaskState.TASK_STATE_COMPLETED)
        throw new Error(`task ${task.id} ended ${TaskState[task.status!.state]}`);
      return task.id;
    },
    async stop() {
      conn.close();
      await db?.end().catch(() => undefined);
      await local.stop();
      await fx?.cleanup();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return mesh;
}

/** A client to one orchestrator replica (not balanced), calling as the mesh's user; close() also closes its transport. */
export async function directClient(mesh: DemoMesh, address: string) {
  const { cert, key } = mesh.local.file.client;
  const transport = new Transport({
    mode: 'mtls',
    trustDomain: mesh.local.file.trustDomain,
    tls: { certFile: cert, keyFile: key, caFile: mesh.local.file.ca },
  });
  const service = mesh.local.file.services.find((s) => s.name === ORCHESTRATOR)!;
  const token = await mesh.conn.userToken(ORCHESTRATOR);
  const client = createClient(AgentServiceService, address, {
    credentials: transport.channelCredentials(service.spiffeId),
    metadataHooks: [(m) => m.set('authorization', `Bearer ${token}`)],
    defaultDeadlineMs: 60_000,
  });
  const closeClient = client.close.bind(client);
  return Object.assign(client, {
    close() {
      closeClient();
      transport.close();
    },
  });
}

/**
 * CPU time (user + system, ms) each service process of the mesh has used so far, by log name
 * (its current process, from the pid its log names): on a shared machine, CPU per task is a
 * steadier measure of work than latency.
 */
export function cpuByService(mesh: DemoMesh): Record<string, number> {
  const dir = join(mesh.local.home, 'logs');
  const used: Record<string, number> = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    const pid = pidsOf(join(dir, file))[0];
    if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) continue;
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in clock ticks (100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    used[file.replace(/\.log$/, '')] = (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return used;
}

/** The launcher environment that makes every service of the mesh write a CPU profile into `dir` when it exits. */
export function profiledEnv(dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  return { AGENTMESH_SERVICE_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${dir}` };
}

/**
 * Call before mesh.stop() (the logs that name each service's pids go with the mesh's folder); the
 * function it returns, called once the mesh has stopped (the profiles are written on exit), names
 * each profile in `dir` `<service>.<pid>.cpuprofile` and writes `window` (the measured part, on the
 * profiles' clock) to window.json.
 */
export function keepProfiles(mesh: DemoMesh, dir: string): (window?: { startUs: number; endUs: number }) => void {
  const logs = join(mesh.local.home, 'logs');
  const serviceOf = new Map<number, string>();
  for (const file of readdirSync(logs).filter((f) => f.endsWith('.log')))
    for (const pid of pidsOf(join(logs, file))) serviceOf.set(pid, file.replace(/\.log$/, ''));
  return (window) => {
    for (const file of readdirSync(dir)) {
      // Node names them CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
      const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(file)?.[1]);
      const service = serviceOf.get(pid);
      if (service) renameSync(join(dir, file), join(dir, `${service}.${pid}.cpuprofile`));
    }
    if (window) writeFileSync(join(dir, 'window.json'), `${JSON.stringify(window)}\n`);
  };
}
