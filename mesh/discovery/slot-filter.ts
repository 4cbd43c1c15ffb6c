import { meets } from './name-chars.js';
import type { NameMatcher } from './name-pattern.js';
import { characteristicGroups, type Candidate, type CompiledScope } from './scope-match.js';
import type { SearchBudget } from './search-budget.js';

/**
 * The scope test of one search over index slots, as filterCandidate decides it but by
 * membership where it can: names and namespaces by set, a name pattern only for names that
 * start with one of its prefixes and hold the characters it needs (`chars`, name-chars.ts), so
 * a hundred patterns cost one map lookup a name and run few programs; a name holding none of
 * the characters that any pattern needs is turned away before its entry is read. Every entry
 * checked, and every pattern program run, counts against the search's budget.
 */
export function slotFilter(
  s: CompiledScope,
  patterns: NameMatcher[],
  budget: SearchBudget,
  candidate: (slot: number) => Candidate,
  chars: Uint32Array,
): (slot: number) => boolean {
  const visible = visibilityTest(s, patterns, budget);
  const needs = s.names.length || s.namespaces.length ? [] : requirementSets(patterns);
  const hopeless = (bits: number) => {
    for (const n of needs) if (meets(bits, n)) return false;
    return needs.length > 0;
  };
  return (slot) => {
    budget.spend();
    if (hopeless(chars[slot]!)) return false;
    const c = candidate(slot);
    if (s.kinds.size && !s.kinds.has(c.kind)) return false;
    return (!visible || visible(c, chars[slot]!)) && characteristicGroups(c, s) !== undefined;
  };
}

/**
 * The scope's patterns that some entry could match, given how many entries hold each
 * character (`charCounts`, by bit): a pattern needing a character no name has matches nothing.
 */
export function possiblePatterns(s: CompiledScope, charCounts: Int32Array): NameMatcher[] {
  const held = (set: number) => {
    for (let bit = 0; bit < 32; bit++) if (set & (1 << bit) && charCounts[bit]! > 0) return true;
    return false;
  };
  return s.patterns.filter((p) => p.requirements.every(held));
}

/** The distinct requirement lists of the patterns; none when one pattern needs nothing. */
function requirementSets(patterns: NameMatcher[]): number[][] {
  if (patterns.some((p) => !p.requirements.length)) return [];
  const sets = new Map(patterns.map((p) => [p.requirements.join(), p.requirements]));
  return [...sets.values()];
}

/** Whether a name passes the visibility scope (undefined: the scope has none, everything does). */
function visibilityTest(
  s: CompiledScope,
  patterns: NameMatcher[],
  budget: SearchBudget,
): ((c: Candidate, chars: number) => boolean) | undefined {
  if (!(s.names.length || s.namespaces.length || s.patterns.length)) return undefined;
  const names = new Set(s.names);
  const namespaces = new Set(s.namespaces);
  const byPrefix = new Map<string, NameMatcher[]>();
  const unprefixed: NameMatcher[] = [];
  for (const p of patterns) {
    if (!p.prefixes.length) unprefixed.push(p);
    for (const x of new Set(p.prefixes)) {
      const list = byPrefix.get(x);
      if (list) list.push(p);
      else byPrefix.set(x, [p]);
    }
  }
  const lengths = [...new Set([...byPrefix.keys()].map((x) => x.length))];
  const anyMatches = (list: NameMatcher[] | undefined, name: string, chars: number) => {
    for (const p of list ?? []) {
      if (!meets(chars, p.requirements)) continue;
      budget.spend();
      if (p.test(name)) return true;
    }
    return false;
  };
  return (c, chars) => {
    if (names.has(c.name) || namespaces.has(c.namespace!)) return true;
    for (const n of lengths)
      if (n <= c.name.length && anyMatches(byPrefix.get(c.name.slice(0, n)), c.name, chars)) return true;
    return anyMatches(unprefixed, c.name, chars);
  };
}
