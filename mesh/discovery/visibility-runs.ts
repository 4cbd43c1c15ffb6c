import type { CompiledScope } from './scope-match.js';
import type { Ordered, Span } from './sorted-slots.js';

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
  order: Ordered,
  runs: number[],
  nameOf: (slot: number) => string,
  slashlessNames: boolean,
): Span[] | undefined {
  if (!(s.names.length || s.namespaces.length || s.patterns.length)) return undefined;
  if (!s.patterns.every((p) => p.prefixes.length)) return undefined;
  if (s.namespaces.length && (slashlessNames || s.namespaces.some((ns) => ns.includes('/')))) return undefined;
  const parts: [string, boolean][] = [
    ...s.names.map((n): [string, boolean] => [n, false]),
    ...s.namespaces.map((ns): [string, boolean] => [`${ns}/`, true]),
    ...patternPrefixes(s).map((x): [string, boolean] => [x, true]),
  ];
  if ((runs.length - 1) * parts.length > 4_096) return undefined;
  const out: Span[] = [];
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

/** The positions of `order[lo..hi)` (ascending names) holding a name, or every name with a prefix. */
export function nameRange(
  order: Ordered,
  lo: number,
  hi: number,
  nameOf: (slot: number) => string,
  text: string,
  prefix: boolean,
): Span {
  const bound = (after: (name: string) => boolean) => {
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (after(nameOf(order.at(mid)))) b = mid;
      else a = mid + 1;
    }
    return a;
  };
  const from = bound((name) => name >= text);
  const to = prefix ? bound((name) => name >= text && !name.startsWith(text)) : bound((name) => name > text);
  return { from, to };
}

/**
 * The parts of `spans` (of the rank order) inside the runs of equal versions that `keep`
 * accepts (`runs`: where each run starts, then the order's end): a version range is tested
 * once a run, not once an entry, and a range few versions satisfy skips the rest unread.
 */
export function withinRuns(spans: Span[], runs: number[], keep: (runStart: number) => boolean): Span[] {
  const out: Span[] = [];
  let r = 0;
  for (const g of spans) {
    while (r + 1 < runs.length && runs[r + 1]! <= g.from) r++;
    for (let k = r; k + 1 < runs.length && runs[k]! < g.to; k++) {
      if (!keep(runs[k]!)) continue;
      const from = Math.max(g.from, runs[k]!);
      const to = Math.min(g.to, runs[k + 1]!);
      if (from < to) out.push({ from, to });
    }
  }
  return out;
}
