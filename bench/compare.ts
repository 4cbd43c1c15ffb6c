// `npm run bench -- --compare <previous bench-results.json>`: the change of every metric against
// an earlier run, so that a regression is visible at a glance. Rows are matched by benchmark and
// conditions; a metric's better direction is read from its name (latencies, memory and times
// down, rates and ratios up). The comparison is only as fair as the two runs: the machines are
// compared too, and a difference is said first.
import { round, type Row } from './harness.js';

/** What bench-results.json holds (the part a comparison reads). */
export interface BenchResults {
  date: string;
  quick: boolean;
  environment: Record<string, unknown>;
  rows: Row[];
}

/** How much worse than before a metric must be to be called a regression (10 %: run-to-run noise on 2 shared cores). */
export const REGRESSION_THRESHOLD = 0.1;

/** Units and words of metrics where less is better (time, memory, work, failures). */
const LOWER = new Set([
  'ms',
  'us',
  's',
  'seconds',
  'mb',
  'bytes',
  'latency',
  'delay',
  'overhead',
  'rss',
  'cost',
  'scanned',
  'failed',
  'lost',
  'errors',
]);
/** Metrics that only say how much was measured (sample counts). */
const NEUTRAL = new Set(['n', 'samples', 'count', 'ops']);

/** The words of a metric name, snake_case or camelCase: "p99_ms" → p99 ms, "tasksPerSecond" → tasks per second. */
const wordsOf = (metric: string) =>
  metric
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/**
 * Which way a metric improves, from its name: rates ("…_per_s", "…PerSecond") and ratios up;
 * latencies, times, memory, work and failures down; sample counts neither.
 */
export function betterWhen(metric: string): 'lower' | 'higher' | 'neither' {
  const words = wordsOf(metric);
  if (words.includes('per')) return 'higher';
  if (words.length === 1 && NEUTRAL.has(words[0]!)) return 'neither';
  return words.some((w) => LOWER.has(w)) ? 'lower' : 'higher';
}

const keyOf = (r: Pick<Row, 'benchmark' | 'conditions'>) =>
  `${r.benchmark} ${Object.entries(r.conditions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

/** One metric of one row, before and now. */
export interface MetricChange {
  row: string;
  metric: string;
  before: number | undefined;
  now: number | undefined;
  /** now / before - 1; undefined when either is missing or before is 0. */
  change: number | undefined;
  regression: boolean;
}

/** Every metric of both runs, matched by row and name, with its relative change and whether it got worse by more than the threshold. */
export function compareResults(before: BenchResults, now: BenchResults): MetricChange[] {
  const earlier = new Map(before.rows.map((r) => [keyOf(r), r]));
  const seen = new Set<string>();
  const changes: MetricChange[] = [];
  const add = (row: string, metric: string, b: number | undefined, n: number | undefined) => {
    const change = b !== undefined && n !== undefined && b !== 0 ? n / b - 1 : undefined;
    const better = betterWhen(metric);
    const worse =
      change !== undefined && better !== 'neither' && (better === 'lower' ? change : -change) > REGRESSION_THRESHOLD;
    changes.push({ row, metric, before: b, now: n, change, regression: worse });
  };
  for (const r of now.rows) {
    const key = keyOf(r);
    seen.add(key);
    const old = earlier.get(key);
    for (const [metric, value] of Object.entries(r.metrics)) add(key, metric, old?.metrics[metric], value);
    for (const [metric, value] of Object.entries(old?.metrics ?? {}))
      if (!(metric in r.metrics)) add(key, metric, value, undefined);
  }
  for (const [key, old] of earlier)
    if (!seen.has(key)) for (const [metric, value] of Object.entries(old.metrics)) add(key, metric, value, undefined);
  return changes;
}

/** The environment fields (node, cpus...) and run kinds (quick or full) that differ between the runs. */
export function differences(before: BenchResults, now: BenchResults): string[] {
  const out: string[] = [];
  if (before.quick !== now.quick) out.push(`quick: ${before.quick} → ${now.quick}`);
  for (const k of new Set([...Object.keys(before.environment), ...Object.keys(now.environment)]))
    if (JSON.stringify(before.environment[k]) !== JSON.stringify(now.environment[k]))
      out.push(`${k}: ${String(before.environment[k])} → ${String(now.environment[k])}`);
  return out;
}

const shown = (v: number | undefined) => (v === undefined ? '—' : String(round(v)));

/** The comparison as text: differing conditions first, then one line per metric, regressions marked. */
export function comparisonReport(before: BenchResults, now: BenchResults): string {
  const changes = compareResults(before, now);
  const lines = [`compared with the run of ${before.date}`];
  for (const d of differences(before, now)) lines.push(`  not the same run conditions: ${d}`);
  for (const c of changes) {
    const pct = c.change === undefined ? '' : ` (${c.change >= 0 ? '+' : ''}${round(c.change * 100)} %)`;
    const mark = c.regression ? '  REGRESSION' : c.before === undefined ? '  new' : c.now === undefined ? '  gone' : '';
    lines.push(`  ${c.row} ${c.metric}: ${shown(c.before)} → ${shown(c.now)}${pct}${mark}`);
  }
  const worse = changes.filter((c) => c.regression).length;
  lines.push(
    worse
      ? `${worse} metric(s) worse by more than ${REGRESSION_THRESHOLD * 100} %`
      : `no metric worse by more than ${REGRESSION_THRESHOLD * 100} %`,
  );
  return lines.join('\n');
}
