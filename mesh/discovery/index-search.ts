import { relevanceOf, termWeights, type Candidate, type CompiledScope } from './scope-match.js';
import type { SearchBudget } from './search-budget.js';
import type { Ordered } from './sorted-slots.js';
import { TopK } from './top-k.js';

// How a Discover search finds the best `limit` matches without scoring every candidate.
//
// Every match of one scope scores the same number of characteristic groups (scoreCandidate):
// matches differ only by free-text relevance, ties going to the index's rank order (the higher
// version, then the name, then the earlier entry). So:
// - a scope without text wants the first `limit` matches in rank order: walking the rank order
//   stops at the limit-th match, however many entries the scope admits;
// - a scope with text wants the highest relevance first: relevance is summed per entry over the
//   terms' postings into a byte array (a few nanoseconds a posting, where scoring an entry costs
//   microseconds), then the rank order is walked for the highest relevance present, stopping at
//   the limit-th match.
// When an index lookup (a namespace, a name, a pattern's prefix range, a skill) leaves few
// candidates, examining each of them costs less: the plain search runs both in turns and takes
// whichever finishes first, so it costs at most twice the cheaper of the two.

/** The index as a search reads it. */
export interface Slots {
  /** Slots in use (removed ones included: `alive` says which hold an entry). */
  count: number;
  alive: Uint8Array;
  /** Each slot's rank number: ordered as `order` is (not a position: gaps are left for insertions). */
  rank: Float64Array;
  /** Every slot in rank order (sorted-slots.ts). */
  order: Ordered;
  candidate(slot: number): Candidate;
  /** Whether a slot passes the search's scope (slot-filter.ts): each call is counted in `budget`. */
  matches(slot: number): boolean;
  /** The checks this search may still make (past it, RESOURCE_EXHAUSTED). */
  budget: SearchBudget;
}

/** A run of an index lookup: `list[from..to)`. */
export interface Segment {
  list: number[];
  from: number;
  to: number;
}

const TURN = 256;
let byteScores = new Uint8Array(0);
let seen = new Uint32Array(0);
let epoch = 0;

/** Walks the slots of a lookup's segments once each (a slot in two segments is visited once). */
class Cursor {
  private g = 0;
  private i: number;
  private readonly mark: number;

  constructor(
    private readonly segments: Segment[],
    private readonly view: Slots,
    private readonly dedupe = segments.length > 1,
  ) {
    this.i = segments[0]?.from ?? 0;
    if (seen.length < view.count) seen = new Uint32Array(view.alive.length);
    if (++epoch === 0xffffffff) {
      seen.fill(0);
      epoch = 1;
    }
    this.mark = epoch;
  }

  /** The next live slot, or -1 once every segment is done. */
  next(): number {
    const segments = this.segments;
    while (this.g < segments.length) {
      const g = segments[this.g]!;
      if (this.i >= g.to) {
        this.i = segments[++this.g]?.from ?? 0;
        continue;
      }
      const slot = g.list[this.i++]!;
      if (!this.view.alive[slot]) continue;
      if (this.dedupe) {
        if (seen[slot] === this.mark) continue;
        seen[slot] = this.mark;
      }
      return slot;
    }
    return -1;
  }
}

/**
 * The best matches of a scope without free text. `ranked` are runs of the rank order
 * that hold every entry the scope's visibility admits (else the whole rank order);
 * `lookup`, when given, a narrower index lookup (a skill, tag or policy).
 */
export function searchPlain(
  view: Slots,
  limit: number,
  admit: (slot: number) => boolean,
  ranked: Segment[],
  lookup: Segment[] | undefined,
): number[] {
  const found: number[] = [];
  const inOrder = new Cursor(ranked, view, false);
  const cursor = lookup && new Cursor(lookup, view);
  const best = new TopK(limit);
  for (;;) {
    if (cursor) {
      // A turn over the lookup's candidates, each examined, the best kept.
      for (let n = 0; n < TURN; n++) {
        const slot = cursor.next();
        if (slot < 0) return best.slots;
        const rank = view.rank[slot]!;
        if (best.wouldKeep(0, rank) && view.matches(slot) && admit(slot)) best.keep(slot, 0, rank);
      }
    }
    // A turn down the rank order: the first matches found are the best.
    for (let n = 0; !cursor || n < TURN; n++) {
      const slot = inOrder.next();
      if (slot < 0) return found;
      if (!view.matches(slot) || !admit(slot)) continue;
      found.push(slot);
      if (found.length === limit) return found;
    }
  }
}

/** The best matches of a scope with free text; `terms` are the postings of its terms. */
export function searchText(
  view: Slots,
  s: CompiledScope,
  limit: number,
  admit: (slot: number) => boolean,
  ranked: Segment[],
  lookup: Segment[] | undefined,
  terms: number[][],
): number[] {
  const postings = terms.reduce((n, list) => n + list.length, 0);
  const candidates = lookup?.reduce((n, g) => n + g.to - g.from, 0) ?? Infinity;
  if (!postings || !candidates) return [];
  const best = new TopK(limit);
  const keep = (slot: number, relevance: number) => {
    const rank = view.rank[slot]!;
    if (best.wouldKeep(relevance, rank) && view.matches(slot) && admit(slot)) best.keep(slot, relevance, rank);
  };
  if (lookup && candidates * 64 <= postings) {
    // Few candidates: their own words (tokenising one costs about what 64 postings do).
    const cursor = new Cursor(lookup, view);
    for (let slot = cursor.next(); slot >= 0; slot = cursor.next()) {
      view.budget.spend();
      const relevance = relevanceOf(termWeights(view.candidate(slot)), s);
      if (relevance) keep(slot, relevance);
    }
    return best.slots;
  }
  if (byteScores.length < view.count) byteScores = new Uint8Array(view.alive.length);
  const scores = byteScores;
  let top = 0;
  for (const list of terms) {
    for (const p of list) {
      const slot = p >>> 3;
      const r = scores[slot]! + (p & 7);
      scores[slot] = r;
      if (r > top) top = r;
    }
  }
  try {
    // A lookup much smaller than the index: its candidates, each with its relevance; else the rank order.
    if (lookup && candidates * 8 <= view.order.length) {
      const cursor = new Cursor(lookup, view);
      for (let slot = cursor.next(); slot >= 0; slot = cursor.next()) if (scores[slot]) keep(slot, scores[slot]!);
      return best.slots;
    }
    return byRelevance(view, limit, admit, ranked, scores, top);
  } finally {
    if (postings * 4 > view.count) scores.fill(0, 0, view.count);
    else for (const list of terms) for (const p of list) scores[p >>> 3] = 0;
  }
}

/** Walks the rank order for the highest relevance; lower ones are set aside in rank order should it not fill the limit. */
function byRelevance(
  view: Slots,
  limit: number,
  admit: (slot: number) => boolean,
  ranked: Segment[],
  scores: Uint8Array,
  top: number,
): number[] {
  const found: number[] = [];
  const lower: number[][] = [];
  const matches = (slot: number) => view.matches(slot) && admit(slot);
  const inOrder = new Cursor(ranked, view, false);
  for (let slot = inOrder.next(); slot >= 0; slot = inOrder.next()) {
    const r = scores[slot]!;
    if (!r) continue;
    if (r < top) (lower[r] ??= []).push(slot);
    else if (matches(slot)) {
      found.push(slot);
      if (found.length === limit) return found;
    }
  }
  for (let r = top - 1; r > 0; r--) {
    for (const slot of lower[r] ?? []) {
      if (!matches(slot)) continue;
      found.push(slot);
      if (found.length === limit) return found;
    }
  }
  return found;
}
