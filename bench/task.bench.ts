// The demo's pre-qualification task end to end (issue 22): the demo mesh started by the real
// launcher (`npm start`: every service its own process, embedded SQLite stores; PostgreSQL too in
// a full run), example 1 of lending/loan-orchestrator (~12 steps over 2 specialist agents and 2
// tool services, completes on its own). Measured: latency at 1 in flight after a warm-up; tasks/s
// at 32 in flight for a fixed number of tasks, each checked to have COMPLETED (failed) and to be
// in a final state afterwards (lost); and where one task's time goes, from the spans the services
// write (bench/task-stages.ts), as the median over the 1-in-flight tasks.
// AGENTMESH_BENCH_CPU_PROF_DIR=<dir>: every service also writes a CPU profile there
// (<dir>/<store>/<service>.<pid>.cpuprofile) and window.json marks the 32-in-flight burst in them;
// `npx tsx bench/cpu-profile-summary.ts <dir>/<store>` sums self time per function and file.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { TERMINAL_STATES } from '../mesh/index.js';
import { profiledEnv, keepProfiles, cpuByService, startDemoMesh, type DemoMesh } from './demo-mesh.js';
import { quantile, round, type BenchModule, type Row } from './harness.js';
import { readSpans, stagesOf, type Stages } from './task-stages.js';

const progress = (what: string) => process.stderr.write(`  task: ${what}\n`);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Latency of `tasks` tasks sent one after the other; their ids, for the stage breakdown. */
async function oneInFlight(mesh: DemoMesh, tasks: number): Promise<{ latencies: number[]; ids: string[] }> {
  const client = mesh.client();
  const latencies: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < tasks; i++) {
    const start = performance.now();
    ids.push(await mesh.send(client, true));
    latencies.push(performance.now() - start);
  }
  return { latencies: latencies.sort((a, b) => a - b), ids };
}

/** `tasks` tasks, `inFlight` at a time: tasks/s, latency, how many did not complete, and how many never reached a final state. */
async function burst(
  mesh: DemoMesh,
  tasks: number,
  inFlight: number,
): Promise<{
  metrics: Record<string, number>;
  cpu: Record<string, number>;
  window: { startUs: number; endUs: number };
}> {
  const client = mesh.client();
  const requests = Array.from({ length: tasks }, () => randomUUID());
  const cpuBefore = cpuByService(mesh);
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let why: string | undefined;
  // On the clock the services' CPU profiles use (CLOCK_MONOTONIC, µs), to cut the burst out of them.
  const window = { startUs: Number(process.hrtime.bigint() / 1000n), endUs: 0 };
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < requests.length) {
        const requestId = requests[next++]!;
        const t0 = performance.now();
        await mesh.send(client, true, requestId).then(
          () => latencies.push(performance.now() - t0),
          (err: unknown) => {
            failed++;
            why ??= (err as Error).message;
          },
        );
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  window.endUs = Number(process.hrtime.bigint() / 1000n);
  const cpuAfter = cpuByService(mesh);
  const cpu = Object.entries(cpuAfter).map(
    ([service, ms]) => [service, (ms - (cpuBefore[service] ?? 0)) / tasks] as const,
  );
  if (why) progress(`${failed} task(s) failed; the first: ${why}`);
  // Every request again (idempotent by request id: the same task, not a new one): is it final?
  let lost = 0;
  for (const requestId of requests) {
    const task = await mesh.request(client, false, requestId).catch(() => undefined);
    if (!task || !TERMINAL_STATES.includes(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) lost++;
  }
  latencies.sort((a, b) => a - b);
  return {
    window,
    cpu: Object.fromEntries(cpu),
    metrics: {
      tasks,
      tasksPerSecond: tasks / seconds,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      failed,
      lost,
      cpuMsPerTask: cpu.reduce((sum, [, ms]) => sum + ms, 0),
    },
  };
}

/** The median of each stage over the tasks whose spans were all exported (waits for the exporters' batches). */
async function stages(mesh: DemoMesh, ids: string[]): Promise<Stages> {
  let found: Stages[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    await pause(500);
    const spans = readSpans(mesh.local.home);
    found = ids.map((id) => stagesOf(spans, id)).filter((s): s is Stages => s !== undefined);
    if (found.length === ids.length) break;
  }
  const median: Stages = {};
  for (const stage of new Set(found.flatMap((s) => Object.keys(s)))) {
    const ms = found.map((s) => s[stage]?.ms ?? 0).sort((a, b) => a - b);
    const calls = found.map((s) => s[stage]?.calls ?? 0).sort((a, b) => a - b);
    median[stage] = { ms: quantile(ms, 0.5), calls: quantile(calls, 0.5) };
  }
  return median;
}

async function measure(store: 'sqlite' | 'postgres', quick: boolean, breakdown: boolean): Promise<Row[]> {
  const profileDir = process.env.AGENTMESH_BENCH_CPU_PROF_DIR
    ? join(process.env.AGENTMESH_BENCH_CPU_PROF_DIR, store)
    : undefined;
  const mesh = await startDemoMesh({
    postgres: store === 'postgres',
    progress,
    env: profileDir ? profiledEnv(profileDir) : undefined,
  });
  let window: { startUs: number; endUs: number } | undefined;
  try {
    progress(`${store}: warm-up`);
    await oneInFlight(mesh, quick ? 5 : 10);
    const n = quick ? 15 : 50;
    progress(`${store}: ${n} tasks, 1 in flight`);
    const single = await oneInFlight(mesh, n);
    const rows: Row[] = [
      {
        benchmark: 'task end to end',
        conditions: { store, inFlight: 1, tasks: n },
        metrics: { p50Ms: quantile(single.latencies, 0.5), p99Ms: quantile(single.latencies, 0.99) },
      },
    ];
    progress(`${store}: 200 tasks, 32 in flight`);
    const loaded = await burst(mesh, 200, 32);
    window = loaded.window;
    rows.push({ benchmark: 'task end to end', conditions: { store, inFlight: 32 }, metrics: loaded.metrics });
    // Which process burns the CPU a task costs (the whole mesh shares the machine's cores).
    for (const [service, ms] of Object.entries(loaded.cpu))
      rows.push({
        benchmark: 'task CPU per service (32 in flight)',
        conditions: { store, service },
        metrics: { cpuMsPerTask: round(ms) },
      });
    if (breakdown) {
      progress(`${store}: stage breakdown from the services' spans`);
      for (const [stage, { ms, calls }] of Object.entries(await stages(mesh, single.ids)))
        rows.push({
          benchmark: 'task stages (median per task, 1 in flight)',
          conditions: { store, stage },
          metrics: { ms: round(ms), calls },
        });
    }
    return rows;
  } finally {
    const keep = profileDir ? keepProfiles(mesh, profileDir) : undefined;
    await mesh.stop();
    keep?.(window);
  }
}

const bench: BenchModule = {
  name: 'task',
  async run({ quick }) {
    const rows = await measure('sqlite', quick, true);
    if (!quick) rows.push(...(await measure('postgres', quick, false)));
    return rows;
  },
};

export default bench;
