/** How far apart renumbered ranks are: room for about 33 insertions at one place before a renumbering. */
const GAP = 1024;

/**
 * Each slot's rank number (ordered as the rank order is: searches compare
 * them, never use them as positions) and where each run of equal versions
 * starts in the rank order. Renumbered ranks are GAP apart, so an entry
 * inserted between two takes a number between theirs and nothing else is
 * renumbered: at a million entries, renumbering them all took ~10 ms, where
 * an insertion otherwise costs the order's memory move. Only when two
 * neighbours leave no number between them (doubles are exact down to 2^-22
 * here) does the caller renumber everything.
 */
export class RankNumbers {
  rank = new Float64Array(0);
  /** Where each run of equal versions starts in the rank order, then the order's end. */
  runs: number[] = [0, 0];

  constructor(private readonly sameVersion: (a: number, b: number) => boolean) {}

  /** Numbers every slot of `order` afresh; `capacity` bounds the slots. */
  renumber(order: number[], capacity: number): void {
    if (this.rank.length < capacity) this.rank = new Float64Array(capacity);
    for (let i = 0; i < order.length; i++) this.rank[order[i]!] = i * GAP;
    this.runs = [0];
    for (let i = 1; i < order.length; i++) if (!this.sameVersion(order[i - 1]!, order[i]!)) this.runs.push(i);
    this.runs.push(order.length);
  }

  /**
   * Numbers the slot just inserted at `order[at]` and moves the runs after it;
   * false (nothing changed) when its neighbours leave no number: renumber then.
   */
  inserted(order: number[], at: number, capacity: number): boolean {
    if (order.length < 2) return false;
    if (this.rank.length < capacity) {
      const grown = new Float64Array(capacity);
      grown.set(this.rank);
      this.rank = grown;
    }
    const slot = order[at]!;
    const prev = at > 0 ? this.rank[order[at - 1]!]! : undefined;
    const next = at + 1 < order.length ? this.rank[order[at + 1]!]! : undefined;
    const r = prev === undefined ? next! - GAP : next === undefined ? prev + GAP : prev + (next - prev) / 2;
    if (r === prev || r === next) return false;
    this.rank[slot] = r;
    // The runs: a run boundary at `at` stays when the new entry heads the run after it, else moves
    // on with every later one; an entry whose version neither neighbour has starts a run of its own.
    const joinsPrev = prev !== undefined && this.sameVersion(order[at - 1]!, slot);
    const joinsNext = next !== undefined && this.sameVersion(order[at + 1]!, slot);
    const runs = this.runs;
    let first = 0;
    let hi = runs.length;
    while (first < hi) {
      const mid = (first + hi) >> 1;
      if (runs[mid]! < at) first = mid + 1;
      else hi = mid;
    }
    for (let i = first; i < runs.length; i++) if (runs[i]! > at || !joinsNext) runs[i] = runs[i]! + 1;
    if (!joinsPrev && !joinsNext) runs.splice(first, 0, at);
    return true;
  }
}
