// `npm run bench [-- --quick] [-- <name filter>]`: runs the registered benchmark modules one
// after the other (never in parallel: they would measure each other), prints a table and
// writes bench-results.json at the repository root. Benchmarks are not tests: nothing here
// asserts a time.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { round, type BenchModule, type Row } from './harness.js';

/** The benchmark modules; add yours here (a default export implementing BenchModule). */
const MODULES: (() => Promise<{ default: BenchModule }>)[] = [
  () => import('./state.bench.js'),
  () => import('./secured-call.bench.js'),
  () => import('./registry.bench.js'),
  () => import('./executor.bench.js'),
  () => import('./startup.bench.js'),
  () => import('./scale-out.bench.js'),
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const filters = args.filter((a) => !a.startsWith('--'));
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
