// Task creations, event appends and step records per second and their CPU per operation, on
// a store of each backend: the writes besides transitions that every task makes (the demo task
// creates its task and child tasks, appends an event and records two step transitions per step).
import { StepState } from '../gen/agentmesh/v1/plan.js';
import { loadStateConfig, openStore } from '../mesh/index.js';
import { runLoad, type BenchOptions, type Row } from './harness.js';

/** The writes measured, each as one operation of a writer on its own task. */
export const WRITES = ['create', 'append', 'step'] as const;
const principal = 'bench';

/** One row: `op` by `writers` concurrent writers on the store `env` opens. */
export async function measureWrites(
  op: (typeof WRITES)[number],
  writers: number,
  scenario: {
    backend: string;
    env: Record<string, string>;
    conditions: Record<string, string | number>;
    serverCpuSeconds?: () => Promise<number | undefined>;
  },
  options: BenchOptions,
): Promise<Row> {
  const service = `bench/writes-${scenario.backend.replace(/\W/g, '-')}-${op}-${writers}`;
  const store = await openStore({ service, config: loadStateConfig(scenario.env) });
  try {
    for (let w = 0; w < writers; w++) await store.tasks.create({ id: `t${w}`, contextId: 'bench', principal });
    const created = new Array<number>(writers).fill(0);
    const write = async (w: number) => {
      if (op === 'create')
        await store.tasks.create({
          id: `t${w}-${created[w]!++}`,
          contextId: 'bench',
          principal,
          data: { input: 'bench' },
          events: [{ statusUpdate: { state: 'TASK_STATE_SUBMITTED' } }],
          lease: { owner: 'bench-replica', ttlMs: 60_000 },
        });
      else if (op === 'append')
        await store.events.append(`t${w}`, { stepStarted: { stepId: 's', attempt: 1 } }, principal);
      else
        await store.steps.record(`t${w}`, {
          stepId: 's',
          state: StepState.STEP_STATE_RUNNING,
          principal,
          detail: { idempotencyKey: 'k' },
        });
    };
    const { warmUpMs, durationMs } = options.quick
      ? { warmUpMs: 200, durationMs: 1_000 }
      : { warmUpMs: 1_000, durationMs: 5_000 };
    await runLoad(writers, write, { warmUpMs: 0, durationMs: warmUpMs });
    const client = process.cpuUsage();
    const server = await scenario.serverCpuSeconds?.();
    const load = await runLoad(writers, write, { warmUpMs: 0, durationMs });
    const clientUs = process.cpuUsage(client);
    const serverSeconds = server === undefined ? undefined : (await scenario.serverCpuSeconds!())! - server;
    return {
      benchmark: `state: ${op === 'step' ? 'step records' : op === 'append' ? 'event appends' : 'task creations'}`,
      conditions: { ...scenario.conditions, writers },
      metrics: {
        ops_per_s: load.opsPerSecond,
        p50_ms: load.p50Ms,
        p99_ms: load.p99Ms,
        client_cpu_us: (clientUs.user + clientUs.system) / load.ops,
        ...(serverSeconds === undefined ? {} : { server_cpu_us: (serverSeconds * 1e6) / load.ops }),
        n: load.ops,
      },
    };
  } finally {
    await store.close();
  }
}
