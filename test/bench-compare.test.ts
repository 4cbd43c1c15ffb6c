// `npm run bench -- --compare <file>`: the change of every metric against an earlier run, a
// regression marked by the metric's better direction; a bad file stops before anything runs.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { betterWhen, compareResults, comparisonReport, type BenchResults } from '../bench/compare.js';
import { ROOT, runCommand } from './helpers/processes.js';

const run = (rows: BenchResults['rows'], environment: Record<string, unknown> = { node: 'v20.20.2', cpus: 2 }) => ({
  date: '2026-12-01T00:00:00.000Z',
  quick: false,
  environment,
  rows,
});

describe('bench --compare', () => {
  test('which way a metric improves is read from its name: rates and ratios up; latencies, memory, work and failures down', () => {
    for (const m of ['p99_ms', 'p50Ms', 'cold_ms', 'rss_mb', 'scanned', 'failed', 'addedP99Ms'])
      expect([m, betterWhen(m)]).toEqual([m, 'lower']);
    for (const m of ['calls_per_s', 'registrations_per_s', 'tasksPerSecond', 'throughput_ratio', 'ratioToOneReplica'])
      expect([m, betterWhen(m)]).toEqual([m, 'higher']);
    expect(betterWhen('n')).toBe('neither');
  });

  test('each metric is matched by benchmark and conditions (in any order); regressions past 10 % are marked', () => {
    const before = run([
      {
        benchmark: 'secured-call',
        conditions: { inFlight: 64, variant: 'full' },
        metrics: { opsPerSecond: 1000, p99Ms: 10 },
      },
      { benchmark: 'registry', conditions: { cards: 100000 }, metrics: { discoverP99Ms: 20 } },
      { benchmark: 'gone', conditions: {}, metrics: { opsPerSecond: 5 } },
    ]);
    const now = run(
      [
        {
          benchmark: 'secured-call',
          conditions: { variant: 'full', inFlight: 64 },
          metrics: { opsPerSecond: 950, p99Ms: 12 },
        },
        { benchmark: 'registry', conditions: { cards: 100000 }, metrics: { discoverP99Ms: 4 } },
        { benchmark: 'new', conditions: {}, metrics: { opsPerSecond: 7 } },
      ],
      { node: 'v24.11.0', cpus: 2 },
    );
    const byMetric = Object.fromEntries(compareResults(before, now).map((c) => [`${c.row} ${c.metric}`, c]));
    // 5 % fewer calls per second: noise, not a regression; 20 % more latency: a regression.
    expect(byMetric['secured-call inFlight=64 variant=full opsPerSecond']).toMatchObject({
      before: 1000,
      now: 950,
      regression: false,
    });
    expect(byMetric['secured-call inFlight=64 variant=full p99Ms']).toMatchObject({
      before: 10,
      now: 12,
      regression: true,
    });
    // A latency five times lower is an improvement.
    expect(byMetric['registry cards=100000 discoverP99Ms']).toMatchObject({ change: -0.8, regression: false });
    expect(byMetric['new  opsPerSecond']).toMatchObject({ before: undefined, now: 7 });
    expect(byMetric['gone  opsPerSecond']).toMatchObject({ before: 5, now: undefined });

    const report = comparisonReport(before, now);
    expect(report).toContain('not the same run conditions: node: v20.20.2 → v24.11.0');
    expect(report).toContain('secured-call inFlight=64 variant=full p99Ms: 10 → 12 (+20 %)  REGRESSION');
    expect(report).toContain('registry cards=100000 discoverP99Ms: 20 → 4 (-80 %)');
    expect(report).toContain('1 metric(s) worse by more than 10 %');
  });

  test('a file that is not an earlier bench-results.json stops the run in one line, before any benchmark or write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
    try {
      const results = join(ROOT, 'bench-results.json');
      const before = existsSync(results) ? statSync(results).mtimeMs : undefined;
      writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
      for (const [file, message] of [
        [join(dir, 'missing.json'), /^bench: cannot compare with .*missing\.json: ENOENT/],
        [join(dir, 'other.json'), /^bench: cannot compare with .*other\.json: no rows: not a bench-results\.json\n$/],
      ] as const) {
        const r = await runCommand(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--compare', file], {
          cwd: ROOT,
        });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toContain('running ');
      }
      const none = await runCommand(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--compare'], { cwd: ROOT });
      expect(none).toMatchObject({
        code: 2,
        stderr: 'bench: --compare needs the path of an earlier bench-results.json\n',
      });
      expect(existsSync(results) ? statSync(results).mtimeMs : undefined).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
