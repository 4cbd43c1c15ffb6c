import type { Ordered, SortedSlots } from './sorted-slots.js';

/** How far apart renumbered ranks are: room for about 33 insertions at one place before a renumbering. */
const GAP = 1024;

/**
 * Each slot's rank number (ordered as the rank order is: searches compare
 * them, never use them as positions) and where each run of equal versions
 * starts in the rank order. Renumbered ranks are GAP apart, so an entry
 * inserted between two takes a number between theirs and nothing else is
 * renumbered: at a million entries, renumbering them all took ~10 ms, where
 * an insertion otherwise costs its place in a chunk (sorted-slots.ts). Only when two
 * neighbours leave no number between them (doubles are exact down to 2^-22
 * here) does the caller renumber everything.
 */
export class RankNumbers {
  rank = new Float64Array(0);
  /** Where each run of equal versions starts in the rank order, then the order's end. */
  runs: number[] = [0, 0];

  constructor(private readonly sameVersion: (a: number, b: number) => boolean) {}

  /** Numbers every slot of `order` afresh; `capacity` bounds the slots. */
  renumber(order: SortedSlots, capacity: number): void {
    if (this.rank.length < capacity) this.rank = new Float64Array(capacity);
    this.runs = [0];
    let previous = -1;
    order.forEach((slot, i) => {
      this.rank[slot] = i * GAP;
      if (i > 0 && !this.sameVersion(previous, slot)) this.runs.push(i);
      previous = slot;
    });
    this.runs.push(order.length);
  }

  /**
   * Numbers the slots just inserted at `order[at[0]]`, `order[at[1]]`… (ascending positions) and
   * moves the runs; false (renumber then) when neighbours leave no number for them.
   */
  inserted(order: Ordered, at: number[], capacity: number): boolean {
    if (order.length <= at.length) return false;
    if (this.rank.length < capacity) {
      const grown = new Float64Array(capacity);
      grown.set(this.rank);
      this.rank = grown;
    }
    // Consecutive new entries share the gap between their old neighbours, evenly.
    for (let i = 0; i < at.length;) {
      let j = i;
      while (j + 1 < at.length && at[j + 1] === at[j]! + 1) j++;
      const first = at[i]!;
      const last = at[j]!;
      const m = j - i + 1;
      const prev = first > 0 ? this.rank[order.at(first - 1)]! : undefined;
      const next = last + 1 < order.length ? this.rank[order.at(last + 1)]! : undefined;
      let before = prev ?? -Infinity;
      for (let k = 0; k < m; k++) {
        const r =
          prev === undefined
            ? next! - GAP * (m - k)
            : next === undefined
              ? prev + GAP * (k + 1)
              : prev + ((next - prev) * (k + 1)) / (m + 1);
        if (!(r > before && (next === undefined || r < next))) return false;
        this.rank[order.at(first + k)] = r;
        before = r;
      }
      i = j + 1;
    }
    // The runs: a position can start a run only where it did before (moved on by the entries
    // inserted ahead of it) or beside a new entry; those few are checked again.
    const candidates: number[] = [];
    let ahead = 0;
    for (let r = 1; r + 1 < this.runs.length; r++) {
      const b = this.runs[r]!;
      // New entry k lands before the old entry at b when fewer than b old entries precede it.
      while (ahead < at.length && at[ahead]! - ahead <= b) ahead++;
      candidates.push(b + ahead);
    }
    for (const p of at) candidates.push(p, p + 1);
    candidates.sort((a, b) => a - b);
    const runs = [0];
    for (const c of candidates) {
      if (c <= runs[runs.length - 1]! || c >= order.length) continue;
      if (!this.sameVersion(order.at(c - 1), order.at(c))) runs.push(c);
    }
    runs.push(order.length);
    this.runs = runs;
    return true;
  }
}
