import { DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import { DiscoveryIndex, type Indexed } from './discovery-index.js';
import { sameCard } from './same-card.js';
import { compareCandidates, compileScope, matchCandidate, scoreCandidate, type Candidate } from './scope-match.js';

// The index answers without scoring every entry (index-search.ts): it must answer exactly what
// scoring every entry and sorting answers, for any cards, scope and limit.

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['credit', 'risk', 'payments', 'ledger', 'fraud', 'kyc', 'loans', 'fx'];
const VERSIONS = ['1.0.0', '1.2.0', '2.0.0', '2.0.0-rc.1', '0.9.3', '10.0.0'];

function cards(rand: () => number, n: number): Indexed<number>[] {
  const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)]!;
  const text = (k: number) => Array.from({ length: k }, () => pick(WORDS)).join(' ');
  return Array.from({ length: n }, (_, i) => {
    const kind = rand() < 0.2 ? 'tool' : 'agent';
    // Few names and versions: entries that tie on version and name (an agent and a tool) occur.
    const name = `ns${Math.floor(rand() * 6)}/a${Math.floor(rand() * 40)}`;
    const version = pick(VERSIONS);
    const candidate: Candidate = {
      kind,
      name,
      version,
      purpose: text(1 + Math.floor(rand() * 3)),
      description: text(Math.floor(rand() * 4)),
      policies: rand() < 0.5 ? ['gdpr'] : rand() < 0.5 ? ['gdpr', 'eu-ccd'] : [],
      skills: [{ id: `s${Math.floor(rand() * 5)}`, name: pick(WORDS), description: text(2), tags: [pick(WORDS)] }],
      labels: { tier: rand() < 0.3 ? 'gold' : 'silver' },
    };
    return { key: `${kind}:${name}@${version}`, candidate, value: i };
  });
}

function scopes(rand: () => number): Parameters<typeof DiscoveryScope.fromPartial>[0] {
  const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)]!;
  const visibility = pick([
    undefined,
    { namespaces: [`ns${Math.floor(rand() * 6)}`] },
    { namespaces: ['ns1', 'ns2'], names: ['ns3/a1'] },
    { names: [`ns${Math.floor(rand() * 6)}/a${Math.floor(rand() * 40)}`] },
    { patterns: [{ pattern: { $case: 'glob' as const, glob: pick(['ns1/*', 'ns*/a1*', '**', 'ns2/a?']) } }] },
    { patterns: [{ pattern: { $case: 'regex' as const, regex: pick(['ns[12]/a1.*', '.*a3', 'ns4/.*']) } }] },
    // Patterns whose matches need characters (name-chars.ts): some no name holds (q, x), some many do.
    {
      patterns: [
        { pattern: { $case: 'regex' as const, regex: pick(['.*[xq]1', 'ns[0-5]/a[0-9]+', '.*s[23]/a1+', '.*q.*']) } },
      ],
    },
    // Many patterns sharing prefixes (ns1/a, ns2/a), each matching few names or none.
    {
      patterns: Array.from({ length: 12 }, (_, k) => ({
        pattern: { $case: 'regex' as const, regex: `ns[12]/a${k}${pick(['', '[0-9]', 'x', '.*'])}` },
      })),
      names: rand() < 0.5 ? ['ns5/a5'] : [],
    },
  ]);
  const characteristics = {
    text: rand() < 0.5 ? Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(WORDS)).join(' ') : '',
    skillIds: rand() < 0.2 ? [`s${Math.floor(rand() * 5)}`] : [],
    tags: rand() < 0.2 ? [pick(WORDS)] : [],
    policies: rand() < 0.3 ? [pick(['gdpr', 'eu-ccd'])] : [],
    labels: rand() < 0.2 ? { tier: pick(['gold', 'gold', 'bronze']) } : {},
    versionConstraint: rand() < 0.2 ? pick(['^1.0.0', '>=2.0.0-0', '<2.0.0']) : '',
    kinds: rand() < 0.2 ? [1] : [],
  };
  return { visibility, characteristics };
}

/** Scores every entry (in the order they were put) and sorts: what the index must agree with. */
function reference(
  entries: Indexed<number>[],
  scope: ReturnType<typeof compileScope>,
  limit: number,
  admit: (v: number) => boolean,
) {
  const scored = entries
    .map((e, order) => ({ e, order, score: scoreCandidate(e.candidate, scope) }))
    .filter((x) => x.score !== undefined && admit(x.e.value));
  scored.sort((a, b) => b.score! - a.score! || compareCandidates(a.e.candidate, b.e.candidate) || a.order - b.order);
  return scored.slice(0, limit).map((x) => ({ value: x.e.value, match: matchCandidate(x.e.candidate, scope) }));
}

// The rank and name orders are kept in chunks (sorted-slots.ts): small chunks make arrivals split
// them and searches cross chunk bounds everywhere.
describe.each([
  ['default chunks', undefined],
  ['chunks of 4 slots', 4],
])('discovery index against scoring every entry (%s)', (_, chunkSize) => {
  test('the same answers, scores and reasons for random cards, scopes and limits, through puts and deletes', () => {
    const rand = random(22);
    const index = new DiscoveryIndex<number>({ chunkSize });
    const live = new Map<string, Indexed<number>>();
    for (const e of cards(rand, 1_500)) {
      index.put(e);
      live.delete(e.key);
      live.set(e.key, e);
    }
    let checked = 0;
    for (let round = 0; round < 400; round++) {
      // Change the index between queries too: new entries, replaced ones, removed ones.
      if (round % 20 === 10) {
        // Up to a sixteenth of the index, new entries take their places by bisection; more, by one
        // rebuild of the orders.
        for (const e of cards(rand, [30, 50, 200][((round - 10) / 20) % 3]!)) {
          index.put(e);
          // A card put again unchanged keeps its place among equals; a changed one goes last.
          if (!(live.has(e.key) && sameCard(live.get(e.key)!.candidate, e.candidate))) live.delete(e.key);
          live.set(e.key, e);
        }
        // Some put again unchanged, with a new value.
        for (const e of [...live.values()].filter(() => rand() < 0.05)) {
          const again = { ...e, value: e.value + 100_000 };
          index.put(again);
          live.set(e.key, again);
        }
        // Removals: once a sixteenth of an order, it drops them; once most of the index, its slots are compacted.
        const share = round === 210 ? 0.75 : 0.02;
        for (const key of [...live.keys()].filter(() => rand() < share)) {
          index.delete(key);
          live.delete(key);
        }
      }
      const scope = compileScope(DiscoveryScope.fromPartial(scopes(rand)));
      const limit = [1, 1, 3, 10, 100][round % 5]!;
      const hidden = rand() < 0.3 ? (v: number) => v % 3 !== 0 : () => true;
      const got = index.search(scope, limit, (e) => hidden(e.value)).map((r) => ({ value: r.value, match: r.match }));
      const want = reference([...live.values()], scope, limit, hidden);
      expect(got).toEqual(want);
      checked += want.length;
    }
    expect(index.size).toBe(live.size);
    expect(checked).toBeGreaterThan(1_000);
  });

  test('the same answers when single puts and searches alternate (ranks numbered where entries land)', () => {
    const rand = random(7);
    const index = new DiscoveryIndex<number>({ chunkSize });
    const live = new Map<string, Indexed<number>>();
    const put = (e: Indexed<number>) => {
      index.put(e);
      if (!(live.has(e.key) && sameCard(live.get(e.key)!.candidate, e.candidate))) live.delete(e.key);
      live.set(e.key, e);
    };
    for (const e of cards(rand, 300)) put(e);
    const extra = cards(rand, 900);
    let checked = 0;
    for (let round = 0; round < 900; round++) {
      const e = extra[round]!;
      if (round % 3 === 0) {
        // Always just before the last of these: the gap between two rank numbers runs out (renumbering all).
        e.candidate.name = `ns1/a1-${String(1_000 - round).padStart(4, '0')}`;
        e.candidate.version = '1.0.0';
        e.key = `agent:${e.candidate.name}`;
      } else if (round % 3 === 1) {
        // A version no other entry has: a run of its own in the rank order, at either end or between.
        e.candidate.version = `${Math.floor(rand() * 12)}.${round}.0`;
        e.key = `${e.candidate.kind}:${e.candidate.name}@${e.candidate.version}`;
      }
      put(e);
      if (round % 150 === 75) {
        for (const key of [...live.keys()].filter(() => rand() < 0.01)) {
          index.delete(key);
          live.delete(key);
        }
      }
      const scope = compileScope(DiscoveryScope.fromPartial(scopes(rand)));
      const limit = [1, 3, 10, 100][round % 4]!;
      const got = index.search(scope, limit).map((r) => ({ value: r.value, match: r.match }));
      const want = reference([...live.values()], scope, limit, () => true);
      expect(got).toEqual(want);
      checked += want.length;
    }
    expect(index.size).toBe(live.size);
    expect(checked).toBeGreaterThan(2_000);
  });
});
