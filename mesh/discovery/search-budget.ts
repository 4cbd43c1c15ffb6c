import { Code, MeshError } from '../core/index.js';
import type { CompiledScope } from './scope-match.js';

/**
 * How many checks one Discover search may make before it is refused with RESOURCE_EXHAUSTED:
 * an entry checked against the scope is one, a name pattern's program run on a name one more.
 * Ordinary queries check a few thousand at most at 1,000,000 cards (docs/benchmarks-history.md);
 * a check costs 0.2–0.6 µs of CPU on the bench machine (a pattern program more), so the budget bounds
 * a search to about 20–60 ms of CPU. Not lower: a pattern without a literal prefix costs two
 * checks a card, and a registry of up to ~50,000 cards should answer it rather than refuse it.
 */
export const DEFAULT_MAX_EXAMINED = 100_000;

/** The checks of one search, refused past the limit (nothing is changed by a refused search). */
export class SearchBudget {
  examined = 0;

  constructor(
    private readonly limit: number,
    private readonly scope: CompiledScope,
  ) {}

  /**
   * Counts `n` checks; RESOURCE_EXHAUSTED, saying what to narrow, once past the limit. Permanent
   * (`grpc-retry-pushback-ms: -1`): the same scope checks the same entries again.
   */
  spend(n = 1): void {
    this.examined += n;
    if (this.examined > this.limit) {
      throw new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `scope too broad: the search passed its budget of ${this.limit} entries checked without finishing; ${narrowingHint(this.scope)}`,
        { permanent: true },
      );
    }
  }
}

/** What a caller can add or change so that the index, not a scan, finds the matches. */
export function narrowingHint(s: CompiledScope): string {
  const unprefixed = s.patterns.findIndex((p) => !p.prefixes.length);
  if (unprefixed >= 0) {
    return `scope.visibility.patterns[${unprefixed}] has no literal prefix to look names up by (start it with the namespace, e.g. "payments/"), or add namespaces, names, skill ids, tags, policies or labels`;
  }
  return 'narrow it with namespaces, names, a pattern with a longer literal prefix, skill ids, tags, policies or labels';
}
