// The startup benchmark's memory breakdown: what each component of a microagent adds to a process
// (bench/fixtures/import-rss.ts, run from the production build), and what the modules the framework
// loads only when a feature is used would add if they were loaded at start. Read after full
// collections, so the figures do not depend on when the collector last ran (the idle RSS of a
// started agent does, under load).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Row } from './harness.js';

type Growth = Record<string, { rss_mb: number; heap_mb: number }>;

/** Components as a microagent loads them, in order: grpc-js, the tracing preload, the framework. */
const STARTED = (dist: string) => ({
  grpc_js: '@grpc/grpc-js',
  tracing_preload: join(dist, 'mesh/telemetry/preload.js'),
  framework: join(dist, 'mesh/index.js'),
});

/** Loaded on first use only (the feature that needs each), measured on top of the framework. */
const ON_USE = {
  mcp_client: '@modelcontextprotocol/client',
  mcp_server: '@modelcontextprotocol/server+@modelcontextprotocol/node',
  x509_dev_ca: 'reflect-metadata+@peculiar/x509',
  openai: 'openai',
  node_vault: 'node-vault',
  pg: 'pg',
  otlp_exporter: '@opentelemetry/exporter-trace-otlp-http',
};

function measure(dist: string, specs: string[]): Growth {
  const out = execFileSync(process.execPath, ['--expose-gc', join(dist, 'bench/fixtures/import-rss.js'), ...specs], {
    cwd: dist,
    env: { ...process.env, NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  return JSON.parse(out) as Growth;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The breakdown rows, each figure the median of `runs` fresh processes. */
export function importMemoryRows(dist: string, runs: number): Row[] {
  const started = STARTED(dist);
  const startedRuns = Array.from({ length: runs }, () => measure(dist, Object.values(started)));
  // Each in a process of its own: one loaded after another would find heap pages the first freed.
  const onUseRuns = Object.values(ON_USE).map((spec) =>
    Array.from({ length: runs }, () => measure(dist, [started.framework, spec])),
  );
  const of = (samples: Growth[], spec: string, what: 'rss_mb' | 'heap_mb' = 'rss_mb') =>
    median(samples.map((g) => g[spec]![what]));
  const startedMetrics: Record<string, number> = { node_mb: of(startedRuns, 'node') };
  for (const [name, spec] of Object.entries(started)) startedMetrics[`${name}_mb`] = of(startedRuns, spec);
  startedMetrics.total_mb = Object.values(startedMetrics).reduce((a, b) => a + b, 0);
  const onUse: Record<string, number> = {};
  Object.entries(ON_USE).forEach(([name, spec], i) => (onUse[`${name}_heap_mb`] = of(onUseRuns[i]!, spec, 'heap_mb')));
  const conditions = { runs, runner: 'node --expose-gc dist/ (npm run build), RSS growth after full GCs' };
  return [
    { benchmark: 'startup: resident memory by component (imported in order)', conditions, metrics: startedMetrics },
    {
      // Heap, not RSS: on top of the framework the heap has room to spare, so RSS barely moves.
      benchmark: 'startup: heap of modules loaded on first use (not at start)',
      conditions: { ...conditions, on_top_of: 'the framework' },
      metrics: onUse,
    },
  ];
}
