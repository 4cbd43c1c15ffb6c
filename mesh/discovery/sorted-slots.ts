/**
 * Entry slots kept in one order (rank, or name) for an index that is read far
 * more often than it changes: additions wait until the next read, which merges
 * them in (up to a sixteenth of the order by bisection, more by one sort and merge), and removed
 * slots stay in place, skipped by readers, until they are many.
 */
export class SortedSlots {
  /** The slots in order; may hold removed slots (see `isLive`). */
  slots: number[] = [];
  private pending: number[] = [];
  private removed = 0;

  constructor(
    private readonly compare: (a: number, b: number) => number,
    private readonly isLive: (slot: number) => boolean,
  ) {}

  add(slot: number): void {
    this.pending.push(slot);
  }

  /** Counts a removal; the slot leaves the order once removals are a sixteenth of it. */
  removedOne(): void {
    this.removed++;
  }

  /** Renumbers slots after the index compacts them (`to[old]`, -1 for gone): the order is kept. */
  renumber(to: Int32Array): void {
    const map = (list: number[]) => list.filter((s) => to[s]! >= 0).map((s) => to[s]!);
    this.slots = map(this.slots);
    this.pending = map(this.pending);
    this.removed = 0;
  }

  /**
   * Merges pending additions in. `inserted(at)` is told where they landed (their positions in the
   * new order, ascending) and may answer false: renumber then. True when the order changed in a
   * way `inserted` was not told of, or it answered false (ranks must then be renumbered).
   */
  flush(inserted: (at: number[]) => boolean = () => false): boolean {
    const dropRemoved = this.removed > 0 && this.removed * 16 >= this.slots.length;
    if (!this.pending.length && !dropRemoved) return false;
    let base = dropRemoved ? this.slots.filter(this.isLive) : this.slots;
    if (dropRemoved) this.removed = 0;
    const add = this.pending.filter(this.isLive).sort(this.compare);
    this.pending = [];
    if (add.length * 16 > base.length) {
      // Many at once: one merge, and the caller renumbers.
      this.slots = merge(base, add, this.compare);
      return true;
    }
    // Few: each one's place by bisection (no comparisons with the entries between them), then
    // the order is rebuilt once (a few by moving the tail, more by copying runs).
    const at = add.map((slot) => this.lowerBound(base, slot));
    if (add.length <= 32) for (let i = add.length - 1; i >= 0; i--) base.splice(at[i]!, 0, add[i]!);
    else {
      const parts: number[][] = [];
      let from = 0;
      for (let i = 0; i < add.length; i++) {
        parts.push(base.slice(from, at[i]), [add[i]!]);
        from = at[i]!;
      }
      parts.push(base.slice(from));
      base = ([] as number[]).concat(...parts);
    }
    this.slots = base;
    const landed = at.map((p, i) => p + i);
    if (!landed.length) return dropRemoved;
    return dropRemoved || !inserted(landed);
  }

  /** The first position whose slot does not come before `slot`. */
  private lowerBound(list: number[], slot: number): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(list[mid]!, slot) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function merge(a: number[], b: number[], compare: (x: number, y: number) => number): number[] {
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = compare(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
