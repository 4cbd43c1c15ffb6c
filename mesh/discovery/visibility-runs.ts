import type { Segment } from './index-search.js';
import type { CompiledScope } from './scope-match.js';

/**
 * Runs of the rank order (`order`, whose equal-version runs start at `runs`)
 * holding every entry a scope's visibility admits, in rank order: within a run
 * of equal versions names ascend, so each name, namespace ("ns/") and pattern
 * prefix is a range found by bisection. Undefined when the visibility does not
 * narrow the order: none given, a pattern without a literal prefix, names
 * without "/" in the index (a namespace is then not a name prefix), or too
 * many parts times runs (each costs two bisections).
 */
export function rankedRuns(
  s: CompiledScope,
  order: number[],
  runs: number[],
  nameOf: (slot: number) => string,
  slashlessNames: boolean,
): Segment[] | undefined {
  if (!(s.names.length || s.namespaces.length || s.patterns.length)) return undefined;
  if (!s.patterns.every((p) => p.prefixes.length)) return undefined;
  if (s.namespaces.length && (slashlessNames || s.namespaces.some((ns) => ns.includes('/')))) return undefined;
  const parts: [string, boolean][] = [
    ...s.names.map((n): [string, boolean] => [n, false]),
    ...s.namespaces.map((ns): [string, boolean] => [`${ns}/`, true]),
    ...patternPrefixes(s).map((x): [string, boolean] => [x, true]),
  ];
  if ((runs.length - 1) * parts.length > 4_096) return undefined;
  const out: Segment[] = [];
  for (let r = 0; r + 1 < runs.length; r++) {
    const ranges = parts
      .map(([text, prefix]) => nameRange(order, runs[r]!, runs[r + 1]!, nameOf, text, prefix))
      .filter((g) => g.from < g.to)
      .sort((a, b) => a.from - b.from);
    for (const g of ranges) {
      const last = out[out.length - 1];
      if (last && last.to >= g.from) last.to = Math.max(last.to, g.to);
      else out.push(g);
    }
  }
  return out;
}

/** Every pattern's prefixes once (patterns often share them: each costs bisections). */
export function patternPrefixes(s: CompiledScope): string[] {
  return [...new Set(s.patterns.flatMap((p) => p.prefixes))];
}

/** The range of `list[lo..hi)` (ascending names) holding a name, or every name with a prefix. */
export function nameRange(
  list: number[],
  lo: number,
  hi: number,
  nameOf: (slot: number) => string,
  text: string,
  prefix: boolean,
): Segment {
  const bound = (after: (name: string) => boolean) => {
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (after(nameOf(list[mid]!))) b = mid;
      else a = mid + 1;
    }
    return a;
  };
  const from = bound((name) => name >= text);
  const to = prefix ? bound((name) => name >= text && !name.startsWith(text)) : bound((name) => name > text);
  return { list, from, to };
}

/**
 * The parts of `segments` (of the rank order) inside the runs of equal versions that `keep`
 * accepts (`runs`: where each run starts, then the order's end): a version range is tested
 * once a run, not once an entry, and a range few versions satisfy skips the rest unread.
 */
export function withinRuns(segments: Segment[], runs: number[], keep: (runStart: number) => boolean): Segment[] {
  const out: Segment[] = [];
  let r = 0;
  for (const g of segments) {
    while (r + 1 < runs.length && runs[r + 1]! <= g.from) r++;
    for (let k = r; k + 1 < runs.length && runs[k]! < g.to; k++) {
      if (!keep(runs[k]!)) continue;
      const from = Math.max(g.from, runs[k]!);
      const to = Math.min(g.to, runs[k + 1]!);
      if (from < to) out.push({ list: g.list, from, to });
    }
  }
  return out;
}
