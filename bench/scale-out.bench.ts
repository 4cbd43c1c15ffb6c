// Scale-out: the demo mesh started by the real launcher (`npm start --replicas
// lending/loan-orchestrator=N --database …`) over a private PostgreSQL database, measured side by
// side in one run: tasks per second of the demo orchestrator with 1, 2 and 3 replicas (ratio
// against 1), the time until another replica has taken over every task of a replica killed (-9)
// or frozen (SIGSTOP) mid-burst, and how late a task's events reach a subscriber on another
// replica than the owner, against a subscriber on the owner.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { LEASED_STATES, TERMINAL_STATES, type MeshReplica } from '../mesh/index.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { pidsOf } from '../test/helpers/local-mesh.js';
import { directClient, startDemoMesh, type DemoMesh } from './demo-mesh.js';
import { quantile, round, runLoad, type BenchModule, type Row } from './harness.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (what: string) => process.stderr.write(`  scale-out: ${what}\n`);

type Mesh = DemoMesh & { db: NonNullable<DemoMesh['db']> };

/** The demo mesh with `replicas` orchestrator replicas over a private PostgreSQL database. */
async function startMesh(replicas: number): Promise<Mesh> {
  return (await startDemoMesh({ replicas, postgres: true, progress })) as Mesh;
}

/** Tasks per second at 32 in flight, sent through the mesh's client (round robin over every replica). */
async function throughput(replicas: number, quick: boolean): Promise<Row> {
  const mesh = await startMesh(replicas);
  try {
    const client = mesh.client();
    progress(`${replicas} replica(s): demo tasks, 32 in flight`);
    let failed = 0;
    let why: string | undefined;
    const load = await runLoad(
      32,
      () =>
        mesh.send(client, true).then(
          () => undefined,
          (err: unknown) => {
            failed++;
            why ??= (err as Error).message;
          },
        ),
      { durationMs: quick ? 6_000 : 20_000, warmUpMs: quick ? 2_000 : 4_000 },
    );
    if (why) progress(`${failed} task(s) failed; the first: ${why}`);
    return {
      benchmark: 'scale-out demo task',
      conditions: { replicas, inFlight: 32, store: 'postgres', lease_ms: 10_000 },
      metrics: { tasksPerSecond: load.opsPerSecond, p50Ms: load.p50Ms, p99Ms: load.p99Ms, failed },
    };
  } finally {
    await mesh.stop();
  }
}

/** The replica id each orchestrator replica logged last (its current process), by replica name. */
function replicaIds(mesh: Mesh): Map<string, MeshReplica> {
  const ids = new Map<string, MeshReplica>();
  for (const r of mesh.replicas) {
    const lines = readFileSync(r.log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('task lease owner id'));
    const last = lines.at(-1);
    if (last) ids.set((JSON.parse(last) as { replica: string }).replica, r);
  }
  return ids;
}

async function ownersOf(mesh: Mesh, ids: string[]): Promise<{ id: string; owner: string | null; state: number }[]> {
  const { rows } = await mesh.db.query<{ id: string; owner: string | null; state: number }>(
    'SELECT id, owner, state FROM tasks WHERE id = ANY($1)',
    [ids],
  );
  return rows;
}

/**
 * Sends a burst, then kills (or freezes) the replica owning most of its live tasks: ms from the
 * signal until none of those tasks is still held by it, and until the whole burst is terminal.
 */
async function takeover(mesh: Mesh, signal: 'SIGKILL' | 'SIGSTOP'): Promise<Record<string, number> | undefined> {
  const client = mesh.client();
  const ids = await Promise.all(Array.from({ length: 24 }, () => mesh.send(client, false)));
  const byId = replicaIds(mesh);
  const live = (await ownersOf(mesh, ids)).filter(
    (t) => LEASED_STATES.includes(t.state) && t.owner && byId.has(t.owner),
  );
  const counts = new Map<string, number>();
  for (const t of live) counts.set(t.owner!, (counts.get(t.owner!) ?? 0) + 1);
  const [victimId] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [];
  if (!victimId) return undefined; // the burst finished before we looked: try again
  const victim = byId.get(victimId)!;
  const pid = pidsOf(victim.log)[0]!;
  const t0 = performance.now();
  process.kill(pid, signal);
  const held = (await ownersOf(mesh, ids)).filter((t) => t.owner === victimId && LEASED_STATES.includes(t.state));
  let takenOver = Number.NaN;
  // The caller follows its tasks through a replica that still answers (a frozen one would hang its calls).
  const survivor = await directClient(mesh, mesh.replicas.find((r) => r !== victim)!.address);
  let nudged = 0;
  try {
    for (;;) {
      const rows = await ownersOf(mesh, ids);
      const now = performance.now() - t0;
      // A task taken over mid agent step waits for its caller's token (kept in memory only, so the
      // dead replica's went with it): the caller's next call brings one, as a client following its task does.
      for (const t of rows.filter((r) => r.state === TaskState.TASK_STATE_AUTH_REQUIRED)) {
        nudged++;
        await survivor.getTask({ taskId: t.id, historyLength: 0 }).catch(() => undefined);
      }
      if (Number.isNaN(takenOver) && !rows.some((t) => t.owner === victimId && LEASED_STATES.includes(t.state)))
        takenOver = now;
      if (rows.every((t) => TERMINAL_STATES.includes(t.state))) {
        const completed = rows.filter((t) => t.state === TaskState.TASK_STATE_COMPLETED).length;
        if (signal === 'SIGSTOP') process.kill(pid, 'SIGCONT');
        await readyAgain(mesh);
        return {
          tasksHeld: held.length,
          takeoverMs: takenOver,
          burstDoneMs: now,
          completed,
          burst: ids.length,
          callerCalls: nudged,
        };
      }
      await pause(25);
    }
  } finally {
    survivor.close();
  }
}

/** Waits until every orchestrator replica answers /readyz again (the launcher restarts a killed one). */
async function readyAgain(mesh: Mesh): Promise<void> {
  for (const r of mesh.replicas) {
    for (;;) {
      const ready = await httpRequest(`http://${r.admin}/readyz`, { timeoutMs: 2_000 }).catch(() => undefined);
      if (ready?.status === 200) break;
      await pause(100);
    }
  }
}

/**
 * A task created on replica 1 (which owns it) and followed on both replicas: each event's
 * arrival minus its timestamp, for events written after both subscriptions were open.
 */
async function eventDelay(mesh: Mesh, tasks: number): Promise<{ owner: number[]; other: number[] }> {
  const [a, b] = await Promise.all(mesh.replicas.slice(0, 2).map((r) => directClient(mesh, r.address)));
  const delays = { owner: [] as number[], other: [] as number[] };
  const follow = async (client: typeof a, id: string, into: number[]) => {
    let openedAt = Number.NaN;
    for await (const { event } of client!.subscribeTask({ taskId: id, afterSequence: 0 })) {
      const arrived = Date.now();
      if (Number.isNaN(openedAt)) openedAt = arrived;
      const at = event?.timestamp?.getTime();
      if (at !== undefined && at > openedAt) into.push(arrived - at);
    }
  };
  try {
    for (let i = 0; i < tasks; i++) {
      const id = await mesh.send(a!, false);
      await Promise.all([follow(a, id, delays.owner), follow(b, id, delays.other)]);
    }
  } finally {
    a!.close();
    b!.close();
  }
  return delays;
}

const stats = (ms: number[]) => {
  const sorted = [...ms].sort((x, y) => x - y);
  return { events: sorted.length, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
};

const bench: BenchModule = {
  name: 'scale-out',
  async run({ quick }) {
    const rows: Row[] = [];
    for (const replicas of quick ? [1, 2] : [1, 2, 3]) rows.push(await throughput(replicas, quick));
    const base = rows[0]!.metrics.tasksPerSecond!;
    for (const r of rows) r.metrics.ratioToOneReplica = round(r.metrics.tasksPerSecond! / base);

    const mesh = await startMesh(2);
    try {
      for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
        let measured: Record<string, number> | undefined;
        progress(`takeover after ${signal}`);
        for (let attempt = 0; attempt < 5 && !measured; attempt++) measured = await takeover(mesh, signal);
        rows.push(
          measured
            ? {
                benchmark: 'scale-out takeover',
                conditions: { signal, replicas: 2, lease_ms: 10_000 },
                metrics: measured,
              }
            : {
                benchmark: 'scale-out takeover',
                conditions: { signal, replicas: 2 },
                metrics: {},
                note: 'every burst finished before a replica could be stopped',
              },
        );
      }
      progress('event delay to a subscriber on another replica');
      const delays = await eventDelay(mesh, quick ? 5 : 20);
      rows.push(
        {
          benchmark: 'scale-out event delay',
          conditions: { subscriber: 'owner replica' },
          metrics: stats(delays.owner),
        },
        {
          benchmark: 'scale-out event delay',
          conditions: { subscriber: 'other replica' },
          metrics: stats(delays.other),
        },
      );
    } finally {
      await mesh.stop();
    }
    return rows;
  },
};

export default bench;
