/**
 * The best `limit` entries seen so far, best first, by relevance (higher
 * first) then rank (lower first: the index's global order of version and
 * name). Entries offered in any order; the caller's admission test runs only
 * for those that would be kept, as a search over every candidate did.
 */
export class TopK {
  readonly slots: number[] = [];
  private readonly relevance: number[] = [];
  private readonly ranks: number[] = [];

  constructor(private readonly limit: number) {}

  /** Whether an entry of this relevance and rank would be kept. */
  wouldKeep(relevance: number, rank: number): boolean {
    const n = this.slots.length;
    if (n < this.limit) return true;
    const lastRelevance = this.relevance[n - 1]!;
    return relevance > lastRelevance || (relevance === lastRelevance && rank < this.ranks[n - 1]!);
  }

  /** Keeps an entry (call after wouldKeep and the admission test). */
  keep(slot: number, relevance: number, rank: number): void {
    let i = this.slots.length;
    while (i > 0) {
      const r = this.relevance[i - 1]!;
      if (relevance > r || (relevance === r && rank < this.ranks[i - 1]!)) i--;
      else break;
    }
    this.slots.splice(i, 0, slot);
    this.relevance.splice(i, 0, relevance);
    this.ranks.splice(i, 0, rank);
    if (this.slots.length > this.limit) {
      this.slots.pop();
      this.relevance.pop();
      this.ranks.pop();
    }
  }
}
