import { performance } from 'node:perf_hooks';

/** Options every benchmark module receives. */
export interface BenchOptions {
  /** Fewer iterations / shorter runs, for a smoke run (`npm run bench -- --quick`). */
  quick: boolean;
}

/** One measured result; `conditions` must say everything needed to reproduce or compare it. */
export interface Row {
  benchmark: string;
  conditions: Record<string, string | number>;
  metrics: Record<string, number>;
  /** Why the row has no metrics (e.g. a server was unreachable). */
  note?: string;
}

/** What a benchmark module exports as default; register it in bench/run.ts. */
export interface BenchModule {
  name: string;
  run(options: BenchOptions): Promise<Row[]>;
}

/** The q-quantile (0..1) of sorted samples, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Throughput and latency of `workers` concurrent loops, each calling op until `durationMs` has passed. */
export interface LoadResult {
  ops: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Runs `workers` concurrent loops of op(worker) for warmUpMs (not measured: caches, JIT,
 * connection pools) and then durationMs, recording each op's latency.
 */
export async function runLoad(
  workers: number,
  op: (worker: number) => Promise<void>,
  { durationMs, warmUpMs }: { durationMs: number; warmUpMs: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  const warmUntil = performance.now() + warmUpMs;
  const stopAt = warmUntil + durationMs;
  let measuredStart = Number.NaN;
  const loop = async (worker: number) => {
    for (;;) {
      const start = performance.now();
      if (start >= stopAt) return;
      await op(worker);
      const end = performance.now();
      if (start >= warmUntil) {
        if (Number.isNaN(measuredStart) || start < measuredStart) measuredStart = start;
        latencies.push(end - start);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  const elapsed = (performance.now() - (Number.isNaN(measuredStart) ? warmUntil : measuredStart)) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    opsPerSecond: latencies.length / elapsed,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
  };
}

/** Rounds to a few significant digits for the table and the JSON file. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 3;
  return Number(value.toFixed(digits));
}
