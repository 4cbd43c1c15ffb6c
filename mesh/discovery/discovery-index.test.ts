import { DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import { Code } from '../core/index.js';
import { DiscoveryIndex } from './discovery-index.js';
import { compileScope, type Candidate } from './scope-match.js';

const candidate = (name: string, over: Partial<Candidate> = {}): Candidate => ({
  kind: 'agent',
  name,
  version: '1.0.0',
  purpose: `Agent ${name}`,
  description: '',
  policies: [],
  skills: [{ id: 'generic', name: 'Generic', description: 'does things', tags: ['misc'] }],
  labels: {},
  ...over,
});
const scope = (s: Parameters<typeof DiscoveryScope.fromPartial>[0]) => compileScope(DiscoveryScope.fromPartial(s));

describe('discovery index', () => {
  const index = new DiscoveryIndex<string>();
  for (let i = 0; i < 2_000; i++)
    index.put({ key: `agent:ns${i % 20}/a${i}@1.0.0`, candidate: candidate(`ns${i % 20}/a${i}`), value: `v${i}` });
  index.put({
    key: 'agent:lending/credit-risk@2.0.0',
    candidate: candidate('lending/credit-risk', {
      version: '2.0.0',
      purpose: 'Assess credit risk',
      policies: ['gdpr'],
      skills: [{ id: 'assess-credit-risk', name: 'Assess', description: 'credit score', tags: ['credit'] }],
    }),
    value: 'the one',
  });

  test('finds the single right entry by strict name, skill, policy or text, and agrees with a full scan', () => {
    for (const s of [
      { visibility: { names: ['lending/credit-risk'] } },
      { characteristics: { skillIds: ['assess-credit-risk'] } },
      { characteristics: { policies: ['gdpr'], tags: ['credit'] } },
      { characteristics: { text: 'credit risk assessment' } },
      { visibility: { patterns: [{ pattern: { $case: 'glob' as const, glob: 'lending/*' } }] } },
    ]) {
      const [best] = index.search(scope(s), 1);
      expect(best?.value).toBe('the one');
    }
  });

  test('namespace scope returns only that namespace, ranked and limited', () => {
    const found = index.search(scope({ visibility: { namespaces: ['ns3'] } }), 1_000);
    expect(found).toHaveLength(100);
    expect(found.every((f) => f.candidate.name.startsWith('ns3/'))).toBe(true);
  });

  test('deleted entries disappear from every index', () => {
    index.delete('agent:lending/credit-risk@2.0.0');
    expect(index.search(scope({ characteristics: { skillIds: ['assess-credit-risk'] } }), 1)).toEqual([]);
    expect(index.search(scope({ characteristics: { text: 'credit' } }), 1)).toEqual([]);
  });

  test('a card put again unchanged keeps its place among equals and carries the new value; a changed one is indexed anew', () => {
    const small = new DiscoveryIndex<string>();
    const card = candidate('lending/twin', { version: '3.0.0' });
    small.put({ key: 'agent:lending/twin@3.0.0', candidate: card, value: 'agent' });
    small.put({ key: 'tool:lending/twin@3.0.0', candidate: { ...card, kind: 'tool' }, value: 'tool' });
    small.put({
      key: 'agent:lending/twin@3.0.0',
      candidate: { ...card, skills: [...card.skills] },
      value: 'agent again',
    });
    const byName = scope({ visibility: { names: ['lending/twin'] } });
    expect(small.search(byName, 2).map((r) => r.value)).toEqual(['agent again', 'tool']);
    small.put({ key: 'agent:lending/twin@3.0.0', candidate: { ...card, purpose: 'Twin, changed' }, value: 'changed' });
    expect(small.search(byName, 2).map((r) => r.value)).toEqual(['tool', 'changed']);
    expect(small.search(scope({ characteristics: { text: 'changed' } }), 2).map((r) => r.value)).toEqual(['changed']);
  });
});

describe('discovery index work budget', () => {
  // 2,000 entries, a budget of 100 checks: a scope the index cannot narrow is refused, one it can
  // (an index lookup, a version range tested once a run, characters no name holds) is answered.
  const index = new DiscoveryIndex<string>({ maxExamined: 100 });
  for (let i = 0; i < 2_000; i++) {
    const version = `1.${i % 4}.0`;
    const labels: Record<string, string> = i === 1_500 ? { team: 'ledger' } : {};
    index.put({
      key: `agent:ns${i % 20}/a${i}`,
      candidate: candidate(`ns${i % 20}/a${i}`, { version, labels }),
      value: `v${i}`,
    });
  }
  const values = (s: Parameters<typeof DiscoveryScope.fromPartial>[0]) => index.search(scope(s), 5).map((r) => r.value);
  const regex = (text: string) => ({
    visibility: { patterns: [{ pattern: { $case: 'regex' as const, regex: text } }] },
  });

  test('a scope past the budget is RESOURCE_EXHAUSTED naming what to narrow', () => {
    expect(() => values(regex('.*a1999[0-9]'))).toThrow(
      expect.objectContaining({
        code: Code.RESOURCE_EXHAUSTED,
        message: expect.stringMatching(/^scope too broad: .*patterns\[0\] has no literal prefix/),
      }),
    );
    expect(index.examined).toBe(101);
  });

  test('scopes the index narrows are answered within it', () => {
    expect(values({ characteristics: { labels: { team: 'ledger' } } })).toEqual(['v1500']);
    expect(values({ characteristics: { labels: { team: 'nobody' } } })).toEqual([]);
    expect(values({ characteristics: { versionConstraint: '>=2.0.0' } })).toEqual([]);
    expect(values({ characteristics: { versionConstraint: '1.2.x', labels: { team: 'ledger' } } })).toEqual([]);
    expect(values(regex('.*[xyz]q.*'))).toEqual([]);
    expect(values(regex('ns1[0-9]/a1999'))).toEqual(['v1999']);
    expect(index.examined).toBeLessThanOrEqual(100);
  });
});
