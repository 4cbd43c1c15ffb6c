// Self time of each service's CPU profile, by function and by file, within the measured window:
// `npx tsx bench/cpu-profile-summary.ts <dir> [top]` over what AGENTMESH_BENCH_CPU_PROF_DIR
// collected (<service>.<pid>.cpuprofile and window.json, see bench/task.bench.ts). Only samples
// inside window.json count, so startup and warm-up are left out.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where a function lives, short: a repository path, a package name, node:<module>, or (a V8 category). */
function fileOf(url: string, functionName: string): string {
  if (!url) return `(${functionName || 'native'})`;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/** Self time (ms) per function and per file of the samples between startUs and endUs. */
export function selfTime(profile: Profile, startUs: number, endUs: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < startUs || t > endUs) continue;
    const { functionName, url, lineNumber } = byId.get(profile.samples[i]!)!.callFrame;
    if (functionName === '(idle)') continue;
    const file = fileOf(url, functionName);
    const fn = url ? `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}` : file;
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
    files.set(file, (files.get(file) ?? 0) + ms);
    total += ms;
  }
  return { total, functions, files };
}

function main(): void {
  const [dir, topArg] = process.argv.slice(2);
  if (!dir) throw new Error('usage: bench/cpu-profile-summary.ts <dir> [top]');
  const top = Number(topArg ?? 25);
  const windowFile = join(dir, 'window.json');
  const window = existsSync(windowFile)
    ? (JSON.parse(readFileSync(windowFile, 'utf8')) as { startUs: number; endUs: number })
    : { startUs: 0, endUs: Number.POSITIVE_INFINITY };
  const line = (ms: number, total: number, what: string) =>
    `  ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${what}`;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const { total, functions, files } = selfTime(profile, window.startUs, window.endUs);
    console.log(`\n${file}: ${total.toFixed(0)} ms on CPU in the window`);
    console.log(' by file:');
    for (const [what, ms] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(line(ms, total, what));
    console.log(' by function:');
    for (const [what, ms] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(line(ms, total, what));
  }
}

main();
