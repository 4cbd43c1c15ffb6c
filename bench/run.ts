// `npm run bench [-- --quick] [-- --compare <file>] [-- <name filter>]`: runs the registered
// benchmark modules one after the other (never in parallel: they would measure each other),
// prints a table and writes bench-results.json at the repository root; with --compare, also the
// change of every metric against an earlier bench-results.json. Benchmarks are not tests:
// nothing here asserts a time.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { comparisonReport, type BenchResults } from './compare.js';
import { round, type BenchModule, type Row } from './harness.js';

/** The benchmark modules; add yours here (a default export implementing BenchModule). */
const MODULES: (() => Promise<{ default: BenchModule }>)[] = [
  () => import('./state.bench.js'),
  () => import('./secured-call.bench.js'),
  () => import('./registry.bench.js'),
  () => import('./executor.bench.js'),
  () => import('./startup.bench.js'),
  () => import('./scale-out.bench.js'),
  () => import('./task.bench.js'),
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const compareAt = args.indexOf('--compare');
const compareFile = compareAt >= 0 ? args[compareAt + 1] : undefined;
const filters = args.filter((a, i) => !a.startsWith('--') && (compareAt < 0 || i !== compareAt + 1));

/** The earlier results to compare with, read before this run overwrites bench-results.json; a bad file stops at once. */
function previousResults(file: string | undefined): BenchResults | undefined {
  if (compareAt < 0) return undefined;
  if (!file || file.startsWith('--')) {
    console.error('bench: --compare needs the path of an earlier bench-results.json');
    process.exit(2);
  }
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
    if (!Array.isArray(parsed.rows)) throw new Error('no rows: not a bench-results.json');
    return parsed;
  } catch (err) {
    console.error(`bench: cannot compare with ${file}: ${(err as Error).message}`);
    process.exit(2);
  }
}
const previous = previousResults(compareFile);
const outFile = fileURLToPath(new URL('../bench-results.json', import.meta.url));

function table(rows: Row[]): string {
  const lines = rows.map((r) => [
    r.benchmark,
    Object.entries(r.conditions)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
    r.note ??
      Object.entries(r.metrics)
        .map(([k, v]) => `${k}=${round(v)}`)
        .join('  '),
  ]);
  const header = ['benchmark', 'conditions', 'metrics'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(fmt)].join('\n');
}

const rows: Row[] = [];
for (const load of MODULES) {
  const { default: bench } = await load();
  if (filters.length > 0 && !filters.some((f) => bench.name.includes(f))) continue;
  process.stderr.write(`running ${bench.name}${quick ? ' (quick)' : ''}...\n`);
  rows.push(...(await bench.run({ quick })));
}

console.log(table(rows));
const environment = {
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGb: round(totalmem() / 2 ** 30),
};
const results = {
  date: new Date().toISOString(),
  quick,
  environment,
  rows: rows.map((r) => ({
    ...r,
    metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, round(v)])),
  })),
};
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${outFile}`);
if (previous) console.log(`\n${comparisonReport(previous, results)}`);
