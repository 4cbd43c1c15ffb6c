import { SortedSlots } from './sorted-slots.js';

// The order is kept in chunks that are split as arrivals land: with tiny chunks, every read
// (positions, pieces, where arrivals landed) must agree with one sorted array.

/** mulberry32: a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same numbers in the same order (compared as text: arrays of thousands, hundreds of times). */
const same = (got: number[], want: number[]) => expect(got.join()).toBe(want.join());

describe.each([1, 3, 16])('sorted slots in chunks of %i', (chunkSize) => {
  test('reads as one sorted array through arrivals, removals and renumberings', () => {
    const rand = random(chunkSize);
    // Slot s sorts by key[s] (many equal keys), then by slot: a total order, as the index's.
    let key: number[] = [];
    let alive: boolean[] = [];
    const compare = (a: number, b: number) => key[a]! - key[b]! || a - b;
    const order = new SortedSlots(compare, (s) => alive[s]!, chunkSize);
    // What the order must read as: every slot added and not yet dropped, sorted.
    let expected: number[] = [];
    let landedChecked = 0;
    for (let round = 0; round < 300; round++) {
      // Mostly a few arrivals (placed by bisection), sometimes many (one merge), sometimes none.
      const arrivals = round % 25 === 0 ? 40 + Math.floor(rand() * 200) : Math.floor(rand() * 6);
      const added: number[] = [];
      for (let k = 0; k < arrivals; k++) {
        const s = key.length;
        key.push(Math.floor(rand() * 30));
        alive.push(true);
        order.add(s);
        added.push(s);
      }
      // Some removals: of slots in the order, and of slots still pending (they never land).
      const removals = rand() < 0.3 ? Math.floor(rand() * 8) : 0;
      for (let k = 0; k < removals && key.length; k++) {
        const s = Math.floor(rand() * key.length);
        if (!alive[s]) continue;
        alive[s] = false;
        order.removedOne();
      }
      // Told where arrivals landed, the caller may answer false (no rank numbers left): renumber then.
      let landed: number[] | undefined;
      let answer = true;
      const renumber = order.flush((at) => {
        landed = at;
        answer = rand() < 0.9;
        return answer;
      });
      if (landed) expect(renumber).toBe(!answer);
      const arrived = added.filter((s) => alive[s]);
      expected = [...expected, ...arrived].sort(compare);
      const got: number[] = [];
      const positions: number[] = [];
      order.forEach((s, i) => {
        got.push(s);
        positions.push(i);
      });
      same(
        positions,
        got.map((_, i) => i),
      );
      // Removed slots stay in place until dropped; the live ones are exactly the expected live ones, in order.
      same(
        got.filter((s) => alive[s]),
        expected.filter((s) => alive[s]),
      );
      same(got, [...got].sort(compare));
      // Removed slots are dropped once they are a sixteenth of the order (telling the caller to renumber).
      const dead = got.filter((s) => !alive[s]).length;
      expect(dead * 16).toBeLessThan(Math.max(1, got.length));
      if (got.length < expected.length) expect(renumber).toBe(true);
      expected = got;
      expect(order.length).toBe(got.length);
      same(
        got.map((_, i) => order.at(i)),
        got,
      );
      if (landed) {
        const at = new Map(got.map((s, i) => [s, i]));
        expect(landed).toEqual(arrived.map((s) => at.get(s)).sort((a, b) => a! - b!));
        landedChecked += landed.length;
      }
      // Pieces of any spans walk the same slots as slicing the array.
      const spans = Array.from({ length: 3 }, () => {
        const a = Math.floor(rand() * (got.length + 1));
        const b = Math.floor(rand() * (got.length + 1));
        return { from: Math.min(a, b), to: Math.max(a, b) };
      });
      const pieces = order.pieces(spans);
      expect(pieces.every((p) => p.from < p.to && p.list.length <= 2 * chunkSize)).toBe(true);
      same(
        pieces.flatMap((p) => p.list.slice(p.from, p.to)),
        spans.flatMap((g) => got.slice(g.from, g.to)),
      );
      if (round % 50 === 49) {
        // The index compacts its slots: removed ones go, the rest are renumbered, the order kept.
        const to = new Int32Array(key.length).fill(-1);
        let n = 0;
        for (let s = 0; s < key.length; s++) if (alive[s]) to[s] = n++;
        order.renumber(to);
        key = key.filter((_, s) => alive[s]);
        alive = alive.filter((x) => x);
        expected = expected.filter((s) => to[s]! >= 0).map((s) => to[s]!);
        const after: number[] = [];
        order.forEach((s) => after.push(s));
        same(after, expected);
      }
    }
    expect(landedChecked).toBeGreaterThan(200);
  });
});

test('a batch of more than 16 arrivals landing in one small chunk is copied in once and split', () => {
  // 1,000 slots with keys 0..999, then 40 arrivals all sorting between keys 500 and 501: few enough
  // (40 × 16 ≤ 1,000) to be placed by bisection, all in one chunk of 4, which is split after.
  const key: number[] = [];
  const compare = (a: number, b: number) => key[a]! - key[b]! || a - b;
  const order = new SortedSlots(compare, () => true, 4);
  for (let s = 0; s < 1_000; s++) {
    key.push(s);
    order.add(s);
  }
  order.flush();
  const arrivals: number[] = [];
  for (let k = 0; k < 40; k++) {
    arrivals.push(key.length);
    key.push(500.5);
    order.add(key.length - 1);
  }
  let landed: number[] = [];
  expect(order.flush((at) => ((landed = at), true))).toBe(false);
  const want = [...key.keys()].sort(compare);
  const got: number[] = [];
  order.forEach((s) => got.push(s));
  same(got, want);
  expect(landed).toEqual(arrivals.map((s) => want.indexOf(s)));
  const pieces = order.pieces([{ from: 0, to: order.length }]);
  expect(pieces.every((p) => p.list.length <= 8)).toBe(true);
  same(
    pieces.flatMap((p) => p.list.slice(p.from, p.to)),
    want,
  );
});

test.each([0, -1, 2.5, NaN])('a chunk size of %p is refused', (size) => {
  expect(
    () =>
      new SortedSlots(
        (a, b) => a - b,
        () => true,
        size,
      ),
  ).toThrow('chunkSize must be an integer of at least 1');
});
