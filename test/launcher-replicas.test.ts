// `npm start` with replicas: two processes of the demo orchestrator over one private PostgreSQL
// database, started by the real launcher. Both serve, mesh.json lists both, the mesh's clients
// spread calls over both, a task is readable through either, and each replica is supervised on its own.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { MeshConnection } from '../devtools/cli/connection.js';
import { createClient } from '../mesh/client/index.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { Transport } from '../mesh/security/index.js';
import { alive, pidsOf, startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';
import { ROOT, startProcess } from './helpers/processes.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

const ORCHESTRATOR = 'lending/loan-orchestrator';

/** How many calls of `method` a replica's admin server counted (grpc_server_handled_total, every code). */
async function handled(admin: string, method: string): Promise<number> {
  const metrics = (await httpRequest(`http://${admin}/metrics`)).body.toString();
  return [...metrics.matchAll(/^grpc_server_handled_total\{([^}]*)\} (\S+)$/gm)]
    .filter(
      ([, labels]) => labels!.includes(`grpc_method="${method}"`) && labels!.includes(`service="${ORCHESTRATOR}"`),
    )
    .reduce((sum, [, , n]) => sum + Number(n), 0);
}

describe('npm start with two replicas of an agent over PostgreSQL', () => {
  let home: string;
  let db: BackendFixture;
  let mesh: LocalMesh;
  let conn: MeshConnection;

  beforeAll(async () => {
    db = await postgresFixture();
    home = mkdtempSync(join(tmpdir(), 'agentmesh-replicas-'));
    mesh = await startLocalMesh(home, {
      args: ['--replicas', `${ORCHESTRATOR}=2`, '--database', db.env.DATABASE_URL!],
      timeoutMs: 300_000,
    });
    conn = new MeshConnection('alice', { AGENTMESH_HOME: home });
  }, 400_000);

  afterAll(async () => {
    conn?.close();
    await mesh?.stop();
    await db?.cleanup();
    rmSync(home, { recursive: true, force: true });
  });

  const orchestrator = () => mesh.file.services.find((s) => s.name === ORCHESTRATOR)!;
  // Bounds for a loaded machine (CLI runs, a process restart), not speed expectations.
  const SLOW = 180_000;

  test('mesh.json lists both replicas (the first where one-process readers look) and the launcher names each', () => {
    const s = orchestrator();
    expect(s.replicas!.map((r) => r.name)).toEqual([`${ORCHESTRATOR}#1`, `${ORCHESTRATOR}#2`]);
    expect(new Set(s.addresses).size).toBe(2);
    expect(s.address).toBe(s.addresses![0]);
    expect(s.admin).toBe(s.replicas![0]!.admin);
    expect(new Set(s.replicas!.map((r) => r.log)).size).toBe(2);
    // Services without replicas keep one entry.
    expect(mesh.file.services.find((x) => x.name === 'lending/credit-risk')!.addresses).toHaveLength(1);
    expect(mesh.launcher.stdout()).toContain(`${ORCHESTRATOR}#2 ready`);
    expect(mesh.launcher.stdout()).toMatch(new RegExp(`${ORCHESTRATOR}#1 +agent +${s.addresses![0]}`));
  });

  test("mesh.json records each agent replica's A2A card URL, served over mutual TLS with that replica's gRPC address", async () => {
    const s = orchestrator();
    expect(s.a2aCard).toBe(s.replicas![0]!.a2aCard);
    expect(mesh.file.services.filter((x) => x.a2aCard).map((x) => x.kind)).toEqual(['agent', 'agent', 'agent']);
    const { cert, key } = mesh.file.client;
    const tls = { ca: readFileSync(mesh.file.ca), cert: readFileSync(cert), key: readFileSync(key), servername: '' };
    for (const r of s.replicas!) {
      expect(r.a2aCard).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/\.well-known\/agent-card\.json$/);
      const body = await new Promise<string>((resolve, reject) =>
        httpsGet(r.a2aCard!, { ...tls, agent: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}`))));
        }).on('error', reject),
      );
      const card = JSON.parse(body) as { name: string; supportedInterfaces: { url: string }[] };
      expect(card.name).toBe(ORCHESTRATOR);
      expect(card.supportedInterfaces[0]!.url).toBe(r.address);
    }
  });

  test('both replicas run as their own processes over the shared database, each ready', async () => {
    const pids = orchestrator().replicas!.map((r) => pidsOf(r.log)[0]!);
    expect(new Set(pids).size).toBe(2);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    // A bound for a process that never answers, not a speed expectation: loaded machines answer slowly.
    for (const r of orchestrator().replicas!)
      expect((await httpRequest(`http://${r.admin}/readyz`, { timeoutMs: 60_000 })).status).toBe(200);
    // The state is in PostgreSQL, in the service's schema, not in a file of one replica.
    const tables = await db.sql(
      ORCHESTRATOR,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = '${ORCHESTRATOR}'`,
    );
    expect(tables.length).toBeGreaterThan(0);
  });

  test(
    'the demo task completes through the CLI, and is readable through either replica',
    async () => {
      const run = await mesh.cli(['task', ORCHESTRATOR, '--example', '1', '--json']);
      expect(run.code).toBe(0);
      const task = JSON.parse(run.stdout) as { id: string; status: { state: string } };
      expect(task.status.state).toBe('TASK_STATE_COMPLETED');
      const token = await conn.userToken(ORCHESTRATOR);
      const { cert, key } = mesh.file.client;
      const transport = new Transport({
        mode: 'mtls',
        trustDomain: mesh.file.trustDomain,
        tls: { certFile: cert, keyFile: key, caFile: mesh.file.ca },
      });
      try {
        for (const address of orchestrator().addresses!) {
          // One replica at a time: whichever ran the task, the other reads it from the shared store.
          const one = createClient(AgentServiceService, address, {
            credentials: transport.channelCredentials(orchestrator().spiffeId),
            metadataHooks: [(m) => m.set('authorization', `Bearer ${token}`)],
          });
          try {
            const { task: read } = await one.getTask({ taskId: task.id, historyLength: 0 });
            expect(read).toMatchObject({ id: task.id, status: { state: TaskState.TASK_STATE_COMPLETED } });
          } finally {
            one.close();
          }
        }
      } finally {
        transport.close();
      }
    },
    SLOW,
  );

  test(
    "the mesh's client spreads calls over both replicas",
    async () => {
      const run = await mesh.cli(['task', ORCHESTRATOR, '--example', '1', '--json']);
      const { id } = JSON.parse(run.stdout) as { id: string };
      const [a, b] = orchestrator().replicas!.map((r) => r.admin!);
      const before = [await handled(a!, 'GetTask'), await handled(b!, 'GetTask')];
      // The CLI's client to the agent (every replica address, round robin): call until both replicas
      // have answered some; with one address (pick first) the second never would.
      const client = conn.client(AgentServiceService, ORCHESTRATOR, 'user');
      let after = before;
      while (after[0]! <= before[0]! || after[1]! <= before[1]!) {
        for (let i = 0; i < 10; i++) await client.getTask({ taskId: id, historyLength: 0 });
        after = [await handled(a!, 'GetTask'), await handled(b!, 'GetTask')];
      }
      expect(after[0]! - before[0]!).toBeGreaterThan(0);
      expect(after[1]! - before[1]!).toBeGreaterThan(0);
    },
    SLOW,
  );

  test(
    'a replica that dies is restarted on its own, named; the other keeps running',
    async () => {
      const [first, second] = orchestrator().replicas!;
      const firstPid = pidsOf(first!.log)[0]!;
      const secondPid = pidsOf(second!.log)[0]!;
      process.kill(secondPid, 'SIGKILL');
      while (!mesh.launcher.stdout().includes(`restarting ${ORCHESTRATOR}#2`))
        await new Promise((r) => setTimeout(r, 200));
      // Ready again: a new process behind the same address.
      for (;;) {
        const newest = pidsOf(second!.log)[0];
        const ready = await httpRequest(`http://${second!.admin}/readyz`, { timeoutMs: 2_000 }).catch(() => undefined);
        if (newest !== secondPid && ready?.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(mesh.launcher.stdout()).toContain(`${ORCHESTRATOR}#2 exited (SIGKILL)`);
      expect(mesh.launcher.stdout()).not.toContain(`${ORCHESTRATOR}#1 exited`);
      expect(pidsOf(first!.log)[0]).toBe(firstPid);
      expect(alive(firstPid)).toBe(true);
    },
    SLOW,
  );
});

describe('npm start refuses replicas it cannot run', () => {
  test('more than one replica without a database: one line naming the service and what to do', async () => {
    const home = mkdtempSync(join(tmpdir(), 'agentmesh-replicas-'));
    try {
      const launcher = startProcess(
        join(ROOT, 'devtools/launcher/start.ts'),
        { AGENTMESH_HOME: home, AGENTMESH_BASE_PORT: '39900' },
        { args: ['--replicas', `${ORCHESTRATOR}=2`] },
      );
      expect(await launcher.exited).toBe(1);
      expect(launcher.stderr().trim().split('\n')).toEqual([
        `agentmesh: ${ORCHESTRATOR}: 2 replicas need a shared PostgreSQL (--database postgresql://... or "database" in services/local-mesh.json); SQLite is one replica`,
      ]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 120_000);
});
