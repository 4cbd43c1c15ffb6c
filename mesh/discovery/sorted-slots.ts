/** Read access to an order of slots by position. */
export interface Ordered {
  readonly length: number;
  /** The slot at a position (0 ≤ i < length). */
  at(i: number): number;
}

/** Positions `from..to)` of an order. */
export interface Span {
  from: number;
  to: number;
}

/** A part of one chunk, `list[from..to)`: what a search walks (index-search.ts's Segment). */
export interface Piece {
  list: number[];
  from: number;
  to: number;
}

/** Slots a chunk holds when the order is rebuilt; a chunk grown past twice this is split. */
const CHUNK = 1024;

/**
 * Entry slots kept in one order (rank, or name) for an index that is read far
 * more often than it changes: additions wait until the next read, which merges
 * them in (up to a sixteenth of the order by bisection, more by one sort and merge), and removed
 * slots stay in place, skipped by readers, until they are a sixteenth of it.
 *
 * The order is held in chunks of about CHUNK slots with a directory of where each starts, so
 * that a few additions cost the chunks they land in plus the directory, not a copy of the whole
 * order (at a million entries, two such copies a search made it cost tens of milliseconds).
 * Positions are the order's own (0 to length): readers bisect with `at` and walk `pieces`.
 * Between rebuilds chunks only grow (removed slots stay until a rebuild drops them), so none
 * ever needs merging with a neighbour.
 */
export class SortedSlots implements Ordered {
  /** The order, chunk after chunk; none empty; may hold removed slots (see `isLive`). */
  private chunks: number[][] = [];
  /** Where each chunk starts in the order, then the order's length. */
  private starts: number[] = [0];
  private pending: number[] = [];
  private removed = 0;
  /** The chunk `at` found last: bisections and walks read neighbouring positions, mostly in it. */
  private lastChunk = 0;

  constructor(
    private readonly compare: (a: number, b: number) => number,
    private readonly isLive: (slot: number) => boolean,
    private readonly chunkSize = CHUNK,
  ) {
    // 0 would split forever, a fraction would make empty chunks (and misplace arrivals).
    if (!Number.isInteger(chunkSize) || chunkSize < 1)
      throw new RangeError(`chunkSize must be an integer of at least 1, got ${chunkSize}`);
  }

  get length(): number {
    return this.starts[this.chunks.length]!;
  }

  at(i: number): number {
    const c = this.chunkAt(i);
    return this.chunks[c]![i - this.starts[c]!]!;
  }

  /** Calls `f` with every slot in order and its position. */
  forEach(f: (slot: number, position: number) => void): void {
    let i = 0;
    for (const chunk of this.chunks) for (const slot of chunk) f(slot, i++);
  }

  /** The parts of the chunks that hold each span, span after span. */
  pieces(spans: Span[]): Piece[] {
    const out: Piece[] = [];
    for (const { from, to } of spans) {
      if (from >= to) continue;
      for (let c = this.chunkAt(from); c < this.chunks.length && this.starts[c]! < to; c++) {
        const start = this.starts[c]!;
        out.push({
          list: this.chunks[c]!,
          from: Math.max(from, start) - start,
          to: Math.min(to, this.starts[c + 1]!) - start,
        });
      }
    }
    return out;
  }

  add(slot: number): void {
    this.pending.push(slot);
  }

  /** Counts a removal; the slot leaves the order once removals are a sixteenth of it. */
  removedOne(): void {
    this.removed++;
  }

  /** Renumbers slots after the index compacts them (`to[old]`, -1 for gone): the order is kept. */
  renumber(to: Int32Array): void {
    const kept: number[] = [];
    this.forEach((s) => {
      if (to[s]! >= 0) kept.push(to[s]!);
    });
    this.rebuild(kept);
    this.pending = this.pending.filter((s) => to[s]! >= 0).map((s) => to[s]!);
    this.removed = 0;
  }

  /**
   * Merges pending additions in. `inserted(at)` is told where they landed (their positions in the
   * new order, ascending) and may answer false: renumber then. True when the order changed in a
   * way `inserted` was not told of, or it answered false (ranks must then be renumbered).
   */
  flush(inserted: (at: number[]) => boolean = () => false): boolean {
    const dropRemoved = this.removed > 0 && this.removed * 16 >= this.length;
    if (!this.pending.length && !dropRemoved) return false;
    const add = this.pending.filter(this.isLive).sort(this.compare);
    this.pending = [];
    if (dropRemoved || add.length * 16 > this.length) {
      // Many at once, or removed slots to drop: one merge into a new order, and the caller renumbers.
      const base: number[] = [];
      this.forEach((s) => {
        if (!dropRemoved || this.isLive(s)) base.push(s);
      });
      if (dropRemoved) this.removed = 0;
      this.rebuild(merge(base, add, this.compare));
      return true;
    }
    if (!add.length) return false;
    // Few: each one's place by bisection (no comparisons with the entries between them), then
    // only the chunks they land in change (and are split when grown past twice their size).
    const at = add.map((slot) => this.lowerBound(slot));
    const chunks: number[][] = [];
    for (let c = 0, i = 0; c < this.chunks.length; c++) {
      const start = this.starts[c]!;
      const end = c + 1 < this.chunks.length ? this.starts[c + 1]! : Infinity;
      let j = i;
      while (j < add.length && at[j]! < end) j++;
      if (j === i) {
        chunks.push(this.chunks[c]!);
        continue;
      }
      const grown = landIn(this.chunks[c]!, add.slice(i, j), at.slice(i, j), start);
      if (grown.length <= 2 * this.chunkSize) chunks.push(grown);
      else chunks.push(...split(grown, Math.ceil(grown.length / this.chunkSize)));
      i = j;
    }
    this.setChunks(chunks);
    return !inserted(at.map((p, k) => p + k));
  }

  /** The chunk holding position i: the last one starting at or before it. */
  private chunkAt(i: number): number {
    const last = this.lastChunk;
    if (last < this.chunks.length && this.starts[last]! <= i && i < this.starts[last + 1]!) return last;
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return (this.lastChunk = lo);
  }

  /** The first position whose slot does not come before `slot`. */
  private lowerBound(slot: number): number {
    // The first chunk whose last slot does not come before `slot`, then the place in it.
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const chunk = this.chunks[mid]!;
      if (this.compare(chunk[chunk.length - 1]!, slot) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.chunks.length) return this.length;
    const chunk = this.chunks[lo]!;
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.compare(chunk[mid]!, slot) < 0) a = mid + 1;
      else b = mid;
    }
    return this.starts[lo]! + a;
  }

  /** Holds `order` in chunks of chunkSize. */
  private rebuild(order: number[]): void {
    this.setChunks(split(order, Math.ceil(order.length / this.chunkSize)));
  }

  private setChunks(chunks: number[][]): void {
    this.chunks = chunks;
    this.starts = [0];
    for (const chunk of chunks) this.starts.push(this.starts[this.starts.length - 1]! + chunk.length);
  }
}

/** `chunk` with `add` at positions `at` (ascending, of the order whose position `start` the chunk starts at). */
function landIn(chunk: number[], add: number[], at: number[], start: number): number[] {
  // A few by moving the chunk's tail; more by copying it once.
  if (add.length <= 16) {
    for (let k = 0; k < add.length; k++) chunk.splice(at[k]! - start + k, 0, add[k]!);
    return chunk;
  }
  const out: number[] = [];
  let from = 0;
  for (let k = 0; k < add.length; k++) {
    for (const stop = at[k]! - start; from < stop; from++) out.push(chunk[from]!);
    out.push(add[k]!);
  }
  for (; from < chunk.length; from++) out.push(chunk[from]!);
  return out;
}

/** `list` in `parts` pieces of (nearly) equal size. */
function split(list: number[], parts: number): number[][] {
  const out: number[][] = [];
  for (let k = 0; k < parts; k++)
    out.push(list.slice(Math.floor((list.length * k) / parts), Math.floor((list.length * (k + 1)) / parts)));
  return out;
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
