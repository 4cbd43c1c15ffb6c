// Executor overhead per plan step: a 10-step plan of no-op tools, sequential
// (a chain) and parallel (all independent), with in-memory hooks, so the
// figure is the runtime's own cost (scheduling, substitution, CEL-free
// acceptance, records) without tool, network or store time. The baseline in
// the same run is calling the no-op runner directly ten times.
import { performance } from 'node:perf_hooks';
import { TaskPlan } from '../gen/agentmesh/v1/plan.js';
import { execute, type StepRunner } from '../mesh/index.js';
import { quantile, type BenchModule, type Row } from './harness.js';

const STEPS = 10;
const runner: StepRunner = {
  collaborator: () => 'tool:noop',
  run: async (call) => ({ output: { step: call.step.id, n: call.args.n ?? 0 } }),
};
const hooks = {
  stepStarted: async () => undefined,
  stepFinished: async () => undefined,
  substituted: async () => undefined,
};

function plan(parallel: boolean): TaskPlan {
  return TaskPlan.fromPartial({
    planId: 'p',
    taskId: 't',
    steps: Array.from({ length: STEPS }, (_, i) => ({
      id: `s${i}`,
      target: { $case: 'tool' as const, tool: { service: 'bench/noop', tool: 'noop' } },
      arguments: parallel || i === 0 ? { n: i } : { n: `\${steps.s${i - 1}.output.step}` },
      dependsOn: parallel || i === 0 ? [] : [`s${i - 1}`],
    })),
  });
}

async function measure(parallel: boolean, runs: number): Promise<Row> {
  const p = plan(parallel);
  const executorMs: number[] = [];
  const baselineMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    // Alternate A and B so drift hits both.
    let began = performance.now();
    await execute(p, {
      taskId: `t${r}`,
      input: {},
      runner,
      hooks,
      signal: new AbortController().signal,
      breakers: new Map(),
      state: { outputs: {}, skipped: [], interrupted: {}, answers: {} },
      parallelism: STEPS,
    });
    executorMs.push(performance.now() - began);
    began = performance.now();
    for (const step of p.steps)
      await runner.run({
        taskId: 't',
        step,
        args: {},
        attempt: 1,
        idempotencyKey: 'k',
        signal: new AbortController().signal,
        deadline: Date.now() + 1000,
        childTaskCreated: () => undefined,
      });
    baselineMs.push(performance.now() - began);
  }
  executorMs.sort((a, b) => a - b);
  baselineMs.sort((a, b) => a - b);
  const overhead = (quantile(executorMs, 0.5) - quantile(baselineMs, 0.5)) / STEPS;
  return {
    benchmark: 'executor: overhead per step',
    conditions: {
      steps: STEPS,
      shape: parallel ? 'parallel (independent)' : 'sequential (chain with substitution)',
      runs,
      tools: 'no-op in process',
      hooks: 'in memory',
    },
    metrics: {
      plan_p50_ms: quantile(executorMs, 0.5),
      plan_p99_ms: quantile(executorMs, 0.99),
      baseline_p50_ms: quantile(baselineMs, 0.5),
      overhead_per_step_ms: overhead,
    },
  };
}

const bench: BenchModule = {
  name: 'executor',
  async run({ quick }) {
    const runs = quick ? 200 : 2_000;
    return [await measure(false, runs), await measure(true, runs)];
  },
};
export default bench;
